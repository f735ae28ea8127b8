"""Two machines and an object store: this process trains and publishes a version to S3 (a real S3 API on
loopback); a real Celery worker with an empty cache of its own classifies with it, and drops its copy when the
version is deleted here (the deletion broadcast)."""

from __future__ import annotations

import shutil
import time

import pytest

from classifiers import registry
from classifiers.models import ModelVersion, Prediction
from classifiers.training.services import run_training, start_training_run
from classifiers.training.versions import activate_model_version, delete_model_version
from courses.models import Feedback, FeedbackSource
from courses.services import create_feedback
from tests.classifiers.helpers import label_feedback
from tests.classifiers.store.helpers import cache_entries
from tests.classifiers.tiny import tiny_bert

pytestmark = pytest.mark.slow

TINY = {"epochs": 6, "learning_rate": 5e-3, "batch_size": 16, "freeze_embeddings": False, "max_length": 32}


@pytest.fixture
def worker_elsewhere(transactional_db, s3_model_store, settings, tmp_path, monkeypatch, request):
    """A live worker whose machine has a cache of its own (empty); this process uses another one."""
    monkeypatch.setenv("INFERENCE_THREADS", "1")
    settings.MODEL_CACHE_DIR = tmp_path / "worker-machine-cache"
    worker = request.getfixturevalue("celery_worker_process")
    worker.cache_dir = settings.MODEL_CACHE_DIR
    settings.MODEL_CACHE_DIR = tmp_path / "training-machine-cache"
    return worker


def _wait_for(condition, timeout: float, worker, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.log_path.read_text()[-3000:]}")
        time.sleep(0.2)


def _train(course, instructor, tmp_path) -> ModelVersion:  # noqa: ANN001
    schema = course.schemas.get(name="sentiment")
    config = {**TINY, "base_model": tiny_bert(tmp_path / "tiny-base")}
    run = run_training(start_training_run(schema, course=course, config=config, actor=instructor, dispatch=False).pk)
    assert run.status == "succeeded", run.error
    version = run.model_version
    if not version.is_active:  # a tiny model may miss the baseline; the override is not what is tested here
        version = activate_model_version(version, actor=instructor, override=True)
    return version


def test_a_worker_with_an_empty_cache_serves_a_version_trained_on_another_machine(
    worker_elsewhere, course, instructor, tmp_path, settings
):
    label_feedback(course, course.schemas.get(name="sentiment"), {"positive": 20, "negative": 20, "neutral": 10})
    version = _train(course, instructor, tmp_path)  # trained and published here; activation queues its run
    assert registry.version_exists(version.path)
    # The training machine read the base model's shared parts (to compute the delta), never a version copy.
    assert [p.name.split("~")[0] for p in tmp_path.glob("training-machine-cache/entries/*")] == ["base-models"]

    _wait_for(lambda: not Feedback.objects.filter(course=course).exclude(predictions__model_version=version).exists(),
              120, worker_elsewhere, "the worker to classify the course with the new version")
    arrived = create_feedback(course, text="boring and rushed", source=FeedbackSource.SURVEY)
    _wait_for(lambda: Prediction.objects.filter(feedback=arrived, model_version=version).exists(), 60,
              worker_elsewhere, "on-arrival classification")

    # A small int8 version is served from its own stored files beside the base model's shared parts (its
    # embedding matrix and tokenizer, held once per worker process): nothing rebuilt, no embeddings file
    # written. When int8 was not accurate enough, torch serves a directory rebuilt from both.
    entries = _entries_of(worker_elsewhere.cache_dir, version.path)
    assert [e for e in cache_entries(worker_elsewhere.cache_dir) if e.startswith("base-models~")]
    if version.use_int8:
        assert len(entries) == 1 and "+" not in entries[0]
        assert not list((worker_elsewhere.cache_dir / "entries" / entries[0]).rglob("word_embeddings.f32"))
        return
    assert len(entries) == 2
    (rebuilt,) = [e for e in entries if "+" in e]
    loaded = {p.name for p in (worker_elsewhere.cache_dir / "entries" / rebuilt / "model").iterdir()}
    assert {"tokenizer.json", "eduplatform.json", "model.safetensors"} <= loaded


def _entries_of(cache_dir, relpath: str) -> list[str]:  # noqa: ANN001
    return [e for e in cache_entries(cache_dir) if e.startswith(relpath.replace("/", "~") + "@")]


def test_deleting_a_version_empties_the_cache_of_a_worker_on_another_machine(
    worker_elsewhere, course, instructor, tmp_path
):
    label_feedback(course, course.schemas.get(name="sentiment"), {"positive": 10, "negative": 10})
    old = _train(course, instructor, tmp_path)
    copies = 1 if old.use_int8 else 2  # an int8 small version is served from its stored files (see above)
    _wait_for(lambda: len(_entries_of(worker_elsewhere.cache_dir, old.path)) == copies, 120, worker_elsewhere,
              "the worker to load the first version")
    # The same model, exported and published as a second version of the old format (full files).
    export = registry.export_version(old.path, tmp_path / "copy")
    new = ModelVersion.objects.create(
        schema=old.schema, course=course, number=2, path=registry.version_relpath(old.schema_id, course.pk, 2),
        base_model=old.base_model, label_names=old.label_names, max_length=old.max_length, metrics=old.metrics,
        beats_baseline=True, use_int8=old.use_int8)
    build = registry.new_temp_dir()
    shutil.copytree(export, build, dirs_exist_ok=True)
    registry.publish(build, new.path)
    activate_model_version(new, actor=instructor)
    _wait_for(lambda: len(_entries_of(worker_elsewhere.cache_dir, new.path)) == 1, 120, worker_elsewhere,
              "the worker to load the second version")

    delete_model_version(ModelVersion.objects.get(pk=old.pk), actor=instructor)
    assert not registry.version_exists(old.path)
    _wait_for(lambda: not _entries_of(worker_elsewhere.cache_dir, old.path), 30, worker_elsewhere,
              "the worker to drop the deleted version from its cache")
    assert len(_entries_of(worker_elsewhere.cache_dir, new.path)) == 1
    # The shared base parts stay, in the store and in the cache: other versions of the base model need them.
    assert [e for e in cache_entries(worker_elsewhere.cache_dir) if e.startswith("base-models~")]
    parts = registry.read_meta(new.path)["artifacts"]["base_parts"]
    assert registry.version_exists(parts["path"])
