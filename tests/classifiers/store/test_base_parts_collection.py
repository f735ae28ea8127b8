"""Base-model parts no model version uses any more are deleted (after a grace period) when a version is deleted
and by the daily sweep, in both kinds of store; parts still named, young, or needed by a training in progress
stay, and a version registered while a collection runs is never left without its parts."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from classifiers import registry
from classifiers.ml import artifacts
from classifiers.models import ModelVersion
from classifiers.store.manifest import Manifest
from classifiers.tasks import sweep_model_store_task
from classifiers.training.versions import delete_model_version, delete_unused_base_parts, sweep_model_store
from tests.classifiers.store.helpers import bucket_keys, random_files
from tests.factories import ModelVersionFactory, TrainingRunFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["local", "s3"])
def any_store(request) -> str:
    return request.getfixturevalue("s3_model_store") if request.param == "s3" else "local"


def publish_base(base_model: str = "/models/tiny-bert") -> str:
    """Stand-in parts of `base_model`, published where ensure_base_parts publishes them; returns their path."""
    build = registry.new_temp_dir()
    build.mkdir(parents=True, exist_ok=True)
    for name, data in random_files({artifacts.BASE_WEIGHTS: 2048, "tokenizer.json": 64}).items():
        (build / name).write_bytes(data)
    relpath = f"{registry.BASE_ROOT}/{registry.base_parts_name(base_model)}-{Manifest.build(build).digest[:16]}"
    registry.publish(build, relpath)
    return relpath


def small_version(schema, base: str, *, recorded: bool = True) -> ModelVersion:  # noqa: ANN001
    """A version whose stored metadata names `base` (and whose row does too, unless registered before rows
    recorded it)."""
    meta = {"label_names": [], "artifacts": {"format": artifacts.FORMAT, "base_parts": {"path": base}}}
    return ModelVersionFactory(schema=schema, base_parts=base if recorded else "",
                               files={registry.META_FILE: json.dumps(meta), registry.DELTA_FILE: "delta"})


def test_deleting_the_last_version_of_a_base_model_frees_its_parts_after_the_grace_period(
    any_store, sentiment, instructor, settings, django_capture_on_commit_callbacks
):
    base = publish_base()
    first, second = small_version(sentiment, base), small_version(sentiment, base)
    settings.MODEL_STORE_BASE_PARTS_GRACE_S = 0

    with django_capture_on_commit_callbacks(execute=True):
        delete_model_version(first, actor=instructor)
    assert registry.version_exists(base)  # the other version still needs them
    assert registry.is_small_version(second.path)

    with django_capture_on_commit_callbacks(execute=True):
        delete_model_version(second, actor=instructor)
    assert not registry.version_exists(base) and registry.stored_base_parts() == {}
    if any_store == "s3":
        assert bucket_keys(base) == []  # every object, not only the manifest


def test_parts_younger_than_the_grace_period_stay_until_the_sweep_after_it(
    any_store, sentiment, instructor, django_capture_on_commit_callbacks
):
    base = publish_base()
    version = small_version(sentiment, base)
    with django_capture_on_commit_callbacks(execute=True):
        delete_model_version(version, actor=instructor)
    assert registry.version_exists(base)  # published a moment ago: maybe by a training about to name them

    assert sweep_model_store() == {"deleted": 0, "base_parts_deleted": 0}
    assert sweep_model_store(base_parts_grace_s=0) == {"deleted": 0, "base_parts_deleted": 1}
    assert not registry.version_exists(base)


def test_the_sweep_keeps_parts_named_by_versions_also_ones_registered_before_rows_recorded_them(
    any_store, sentiment
):
    named, legacy, unused = publish_base("a/named"), publish_base("a/legacy"), publish_base("a/unused")
    small_version(sentiment, named)
    old = small_version(sentiment, legacy, recorded=False)
    ModelVersionFactory(schema=sentiment, files=True)  # full files: names no base parts

    assert delete_unused_base_parts(grace_s=0) == [unused]
    assert set(registry.stored_base_parts()) == {named, legacy}
    old.refresh_from_db()
    assert old.base_parts == legacy  # read from its stored metadata once, then kept on the row
    assert sweep_model_store_task.apply().get() == {"deleted": 0, "base_parts_deleted": 0}


def test_a_training_in_progress_keeps_the_parts_of_its_base_model_until_its_version_names_them(
    sentiment, settings, django_capture_on_commit_callbacks, instructor
):
    # A run trains on parts published long ago; the last version naming them is deleted meanwhile.
    base = publish_base("/models/tiny-bert")
    other = publish_base("/models/another-model")
    running = TrainingRunFactory(schema=sentiment, status="running", finished_at=None,
                                 config={"base_model": "/models/tiny-bert/"})
    settings.MODEL_STORE_BASE_PARTS_GRACE_S = 0
    with django_capture_on_commit_callbacks(execute=True):
        delete_model_version(small_version(sentiment, base), actor=instructor)
    assert registry.version_exists(base) and not registry.version_exists(other)

    # The run registers its version (row and run's end in one commit): the row protects the parts from now on.
    version = small_version(sentiment, base)
    running.status = "succeeded"
    running.save()
    assert delete_unused_base_parts() == [] and registry.version_exists(base)
    with django_capture_on_commit_callbacks(execute=True):
        delete_model_version(version, actor=instructor)
    assert not registry.version_exists(base)


def test_the_command_sweeps_and_says_what_it_deleted(sentiment):
    unused = publish_base()
    out = StringIO()
    call_command("sweep_model_store", "--base-parts-grace-s", "0", stdout=out)
    assert json.loads(out.getvalue()) == {"base_parts_deleted": 1, "deleted": 0}
    assert not registry.version_exists(unused)


def test_a_leftover_sweep_never_takes_base_parts_for_a_version_leftover(any_store):
    base = publish_base()
    assert sweep_model_store(grace_s=0, base_parts_grace_s=3600) == {"deleted": 0, "base_parts_deleted": 0}
    assert registry.version_exists(base)
