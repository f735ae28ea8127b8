"""The on-arrival path's one query (`serving_version_ids`) picks exactly what the serving rule picks, and is asked
once per CLASSIFY_SERVING_CACHE_S per process."""

from __future__ import annotations

import time

import pytest

from classifiers.classification.services import forget_serving_versions, versions_serving_arrivals
from classifiers.models import ModelVersion
from classifiers.selectors import active_version_for, schemas_for_course, serving_version_ids
from classifiers.training.versions import activate_model_version
from tests.classifiers.helpers import make_version
from tests.factories import CourseFactory, LabelSchemaFactory, ModelVersionFactory

pytestmark = pytest.mark.django_db


def _by_rule(course) -> list[int]:  # noqa: ANN001
    return sorted(v.pk for v in (active_version_for(s, course) for s in schemas_for_course(course)) if v)


def test_the_lean_query_agrees_with_the_serving_rule(django_assert_num_queries):
    course, other = CourseFactory(), CourseFactory()
    # The course's own sentiment version, and an older inactive one: the active one serves.
    ModelVersionFactory(schema=LabelSchemaFactory(course=course), is_active=False)
    own = ModelVersionFactory(schema=LabelSchemaFactory(course=course), is_active=True)
    # An institution-wide schema with an institution-wide version and a course-specific one: the course's wins;
    # the other course gets the institution-wide one.
    topics = LabelSchemaFactory(course=None, name="topics")
    institution = ModelVersionFactory(schema=topics, course=None, is_active=True)
    course_topics = ModelVersionFactory(schema=topics, course=course, is_active=True)
    # Another course's own version never serves this course.
    other_own = ModelVersionFactory(schema=LabelSchemaFactory(course=other), is_active=True)

    with django_assert_num_queries(1):
        ids = serving_version_ids(course.pk)
    assert ids == sorted([own.pk, course_topics.pk]) == _by_rule(course)
    assert serving_version_ids(other.pk) == sorted([other_own.pk, institution.pk]) == _by_rule(other)
    assert serving_version_ids(10**9) == []  # a course that does not exist (deleted meanwhile): nothing


def test_arrivals_keep_the_answer_for_the_delay_and_an_activation_here_applies_at_once(
    course, instructor, settings, django_assert_num_queries
):
    settings.CLASSIFY_SERVING_CACHE_S = 60
    forget_serving_versions()
    schema = course.schemas.get(name="sentiment")
    v1, v2 = make_version(schema, course=course, number=1), make_version(schema, course=course, number=2)
    activate_model_version(v1, actor=instructor)
    assert versions_serving_arrivals(course.pk) == [v1.pk]
    with django_assert_num_queries(0):  # every further submission of the course: no query
        assert versions_serving_arrivals(course.pk) == [v1.pk]
    # Activated in this process (the service): the next arrival is marked for the new version.
    activate_model_version(v2, actor=instructor)
    assert versions_serving_arrivals(course.pk) == [v2.pk]
    # Changed by another process (no signal reaches this one): the old answer stands for the delay, no longer.
    ModelVersion.objects.filter(pk=v2.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=v1.pk).update(is_active=True)
    assert versions_serving_arrivals(course.pk) == [v2.pk]
    settings.CLASSIFY_SERVING_CACHE_S = 0.2
    time.sleep(0.25)
    assert versions_serving_arrivals(course.pk) == [v1.pk]
