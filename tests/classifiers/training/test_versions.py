"""Activation with the baseline gate, rollback, institution fallback, deletion freeing files."""

from __future__ import annotations

import pytest

from classifiers import registry
from classifiers.labelling.schemas import create_schema
from classifiers.models import ModelVersion
from classifiers.selectors import active_version_for
from classifiers.training.versions import (
    VersionRefused,
    activate_first_version,
    activate_model_version,
    delete_model_version,
    rollback_model_version,
)
from tests.classifiers.helpers import make_version

pytestmark = pytest.mark.django_db


def _sentiment(course):
    return course.schemas.get(name="sentiment")


def test_activation_keeps_one_active_version_per_scope(course, instructor):
    schema = _sentiment(course)
    v1, v2 = make_version(schema, course=course, number=1), make_version(schema, course=course, number=2)
    activate_model_version(v1, actor=instructor)
    activate_model_version(v2, actor=instructor)
    assert list(ModelVersion.objects.filter(is_active=True)) == [v2]
    v2.refresh_from_db()
    assert v2.activated_by == instructor and active_version_for(schema, course) == v2


def test_version_below_baseline_is_refused_without_override(course, instructor):
    weak = make_version(_sentiment(course), course=course, number=1, beats=False)
    with pytest.raises(VersionRefused, match="does not beat the majority-class baseline"):
        activate_model_version(weak, actor=instructor)
    assert not ModelVersion.objects.filter(is_active=True).exists()
    assert activate_model_version(weak, actor=instructor, override=True).is_active


def test_version_with_missing_files_cannot_be_activated(course, instructor):
    version = make_version(_sentiment(course), course=course, number=1)
    registry.delete_version_files(version.path)
    with pytest.raises(VersionRefused, match="missing from the model store"):
        activate_model_version(version, actor=instructor)


def test_rollback_reactivates_the_previous_version(course, instructor):
    schema = _sentiment(course)
    v1, v2 = make_version(schema, course=course, number=1), make_version(schema, course=course, number=2)
    activate_model_version(v1, actor=instructor)
    activate_model_version(v2, actor=instructor)
    assert rollback_model_version(schema, course=course, actor=instructor) == v1
    assert active_version_for(schema, course) == v1
    with pytest.raises(VersionRefused, match="none to roll back to"):
        rollback_model_version(schema, course=course, actor=instructor)


def test_rollback_without_active_version_is_refused(course, instructor):
    with pytest.raises(VersionRefused, match="nothing to roll back"):
        rollback_model_version(_sentiment(course), course=course, actor=instructor)


def test_course_without_own_model_falls_back_to_institution_model(course, other_course, instructor, administrator):
    schema = create_schema("topic", kind="single", labels=["a", "b"], actor=None)
    institution = make_version(schema, course=None, number=1)
    own = make_version(schema, course=course, number=1)
    activate_model_version(institution, actor=administrator)  # institution-wide: an administrator's decision
    activate_model_version(own, actor=instructor)
    assert active_version_for(schema, course) == own
    assert active_version_for(schema, other_course) == institution


def test_delete_frees_files_and_refuses_the_active_version(course, instructor, django_capture_on_commit_callbacks):
    schema = _sentiment(course)
    v1, v2 = make_version(schema, course=course, number=1), make_version(schema, course=course, number=2)
    activate_model_version(v2, actor=instructor)
    with pytest.raises(VersionRefused, match="is active"):
        delete_model_version(v2, actor=instructor)
    path = registry.absolute(v1.path)
    with django_capture_on_commit_callbacks(execute=True):
        delete_model_version(v1, actor=instructor)
    assert not path.exists() and not ModelVersion.objects.filter(pk=v1.pk).exists()


def test_the_system_activates_a_first_version_recording_who_started_its_run(course, annotator):
    # Training was authorized when the run started; activation afterwards is the system's, so a starter
    # whose role changed meanwhile does not block it, and `activated_by` still names them.
    version = make_version(_sentiment(course), course=course, number=1)
    activate_first_version(version, started_by=annotator)
    version.refresh_from_db()
    assert version.is_active and version.activated_by == annotator


def test_the_system_never_activates_a_version_below_the_baseline(course):
    weak = make_version(_sentiment(course), course=course, number=1, beats=False)
    with pytest.raises(VersionRefused, match="waits for staff"):
        activate_first_version(weak, started_by=None)
    assert not ModelVersion.objects.get(pk=weak.pk).is_active
