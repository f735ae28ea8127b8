"""The daily model-store sweep removes what no model version names (killed uploads and builds), after a grace
period that protects a version being registered right now; in both kinds of store."""

from __future__ import annotations

import pytest

from classifiers import registry
from classifiers.tasks import sweep_model_store_task
from classifiers.training.versions import sweep_model_store
from tests.classifiers.store.helpers import bucket_keys, put_object, random_files
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


def test_sweep_deletes_unnamed_uploads_of_an_object_store_and_keeps_versions(s3_model_store, sentiment):
    kept = ModelVersionFactory(schema=sentiment, files=True)
    orphan = registry.version_relpath(sentiment.pk, sentiment.course_id, 9)
    put_object(orphan, "model.onnx", b"half an upload: no manifest")
    assert set(registry.stored_versions()) == {kept.path, orphan}

    # Within the grace period: maybe being registered now.
    assert sweep_model_store() == {"deleted": 0, "base_parts_deleted": 0}
    assert sweep_model_store(grace_s=0) == {"deleted": 1, "base_parts_deleted": 0}
    assert bucket_keys(orphan) == [] and registry.version_exists(kept.path)


def test_sweep_deletes_leftover_builds_of_a_local_store(sentiment):
    kept = ModelVersionFactory(schema=sentiment, files=True)
    leftover = registry.new_temp_dir()  # a training killed before publishing
    (leftover / "model.safetensors").write_bytes(random_files({"w": 10})["w"])
    assert sweep_model_store(grace_s=0) == {"deleted": 1, "base_parts_deleted": 0}
    assert not leftover.exists() and registry.version_exists(kept.path)
    assert sweep_model_store_task.apply().get() == {"deleted": 0, "base_parts_deleted": 0}
