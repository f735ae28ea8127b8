"""Training runs: refusals, the state machine, cancellation, atomic artifacts, idempotent retries."""

from __future__ import annotations

import json

import pytest

from classifiers import registry
from classifiers.ml.training import DataRefused, TrainConfig, prepare_data
from classifiers.models import ModelVersion, TrainingRun
from classifiers.tasks import run_training_task
from classifiers.training.services import (
    TrainingRefused,
    cancel_training_run,
    run_training,
    start_training_run,
)
from classifiers.training.versions import activate_model_version
from courses.models import Feedback
from tests.classifiers.helpers import label_feedback, make_version
from tests.classifiers.tiny import tiny_bert
from tests.support import drop_task_messages, queued_task_messages

pytestmark = pytest.mark.django_db

TINY = {"epochs": 2, "learning_rate": 5e-3, "batch_size": 16, "freeze_embeddings": False, "max_length": 32}


@pytest.fixture
def tiny_model(tmp_path_factory):
    return tiny_bert(tmp_path_factory.getbasetemp() / "tiny-bert")


def _sentiment(course):
    return course.schemas.get(name="sentiment")


def test_prepare_data_refuses_a_single_label():
    with pytest.raises(DataRefused, match="at least 2 labels"):
        prepare_data(["a"] * 20, [["positive"]] * 20, ["negative", "positive"])


def test_prepare_data_refuses_too_few_examples_per_label_and_names_them():
    texts, labels = ["x"] * 25, [["positive"]] * 20 + [["negative"]] * 5
    with pytest.raises(DataRefused, match=r"at least 8 .* negative \(5\)"):
        prepare_data(texts, labels, ["negative", "positive"])


def test_prepare_data_split_is_stratified_seeded_and_keeps_test_rows_out():
    labels = [["a"]] * 40 + [["b"]] * 20 + [["a"]] * 5
    splits = [""] * 60 + ["test"] * 5
    first = prepare_data([str(i) for i in range(65)], labels, ["a", "b"], splits=splits, validation_fraction=0.25)
    again = prepare_data([str(i) for i in range(65)], labels, ["a", "b"], splits=splits, validation_fraction=0.25)
    assert first.val_texts == again.val_texts and len(first.val_texts) == 15
    assert sorted(t[0] for t in first.val_targets).count(1) == 5  # b keeps its third
    assert not {"60", "61", "62", "63", "64"} & set(first.train_texts + first.val_texts)
    assert first.class_balance == {"a": 40, "b": 20}


def test_config_rejects_unknown_options_and_bad_types():
    with pytest.raises(ValueError, match="unknown training option"):
        TrainConfig.from_dict({"base_model": "x", "epoch": 3})
    with pytest.raises(ValueError, match="'epochs' must be int"):
        TrainConfig.from_dict({"base_model": "x", "epochs": "three"})


def test_start_refuses_when_annotations_are_too_few(course, instructor):
    schema = _sentiment(course)
    label_feedback(course, schema, {"positive": 12, "negative": 3})
    with pytest.raises(TrainingRefused, match=r"negative \(3\)"):
        start_training_run(schema, course=course, actor=instructor)
    assert not TrainingRun.objects.exists()


def test_start_counts_the_data_as_the_worker_will_so_held_out_test_rows_do_not_count(course, instructor):
    # One enough-data rule: `prepare_data` on the worker drops `test` rows, so the check before queueing must too.
    schema = _sentiment(course)
    label_feedback(course, schema, {"positive": 8})
    held_out = label_feedback(course, schema, {"negative": 8})
    Feedback.objects.filter(pk__in=held_out[:3]).update(split="test")
    too_few = (r"^need at least 2 labels with at least 8 annotated examples each to train, found 1 \(positive \(8\)\); "
               r"too few for: negative \(5\); annotate more feedback first$")
    with pytest.raises(TrainingRefused, match=too_few):
        start_training_run(schema, course=course, actor=instructor)
    assert not TrainingRun.objects.exists()


def test_start_refuses_bad_config_and_a_second_run_for_the_same_scope(course, instructor):
    schema = _sentiment(course)
    label_feedback(course, schema, {"positive": 8, "negative": 8})
    with pytest.raises(TrainingRefused, match="learning_rate"):
        start_training_run(schema, course=course, config={"learning_rate": 3}, actor=instructor)
    first = start_training_run(schema, course=course, actor=instructor)
    assert first.status == "queued" and first.config["base_model"]
    with pytest.raises(TrainingRefused, match=f"training run {first.pk} is already queued"):
        start_training_run(schema, course=course, actor=instructor)


def test_start_puts_the_task_on_the_training_queue_only_after_commit(course, instructor,
                                                                      django_capture_on_commit_callbacks):
    schema = _sentiment(course)
    label_feedback(course, schema, {"positive": 8, "negative": 8})
    with django_capture_on_commit_callbacks(execute=True):
        run = start_training_run(schema, course=course, actor=instructor)
        assert run.celery_task_id and queued_task_messages("training", run.celery_task_id) == []
    queued = queued_task_messages("training", run.celery_task_id)
    drop_task_messages("training", queued)  # no worker here; nothing must run it later either
    assert len(queued) == 1
    message = json.loads(queued[0])
    assert (message["headers"]["task"], message["headers"]["argsrepr"]) == (run_training_task.name, f"({run.pk},)")


def test_cancel_queued_run_is_final_and_finished_run_cannot_be_cancelled(course, instructor):
    schema = _sentiment(course)
    label_feedback(course, schema, {"positive": 8, "negative": 8})
    run = start_training_run(schema, course=course, actor=instructor, dispatch=False)
    run = cancel_training_run(run, actor=instructor)
    assert run.status == "cancelled" and run.finished_at
    assert run_training(run.pk).status == "cancelled"  # a late delivery does nothing
    with pytest.raises(TrainingRefused, match="already cancelled"):
        cancel_training_run(run, actor=instructor)


@pytest.mark.slow
def test_cancel_running_run_stops_it_without_a_version(course, instructor, tiny_model, monkeypatch):
    schema = _sentiment(course)
    label_feedback(course, schema, {"positive": 16, "negative": 16})
    run = start_training_run(schema, course=course, config={**TINY, "base_model": tiny_model}, actor=instructor,
                             dispatch=False)

    def cancel_on_first_report(progress):
        cancel_training_run(TrainingRun.objects.get(pk=run.pk), actor=instructor)

    monkeypatch.setattr("classifiers.ml.training.PROGRESS_EVERY_S", 0)
    finished = run_training(run.pk, on_progress=cancel_on_first_report)
    assert finished.status == "cancelled" and not ModelVersion.objects.exists()
    assert not any(registry.store_root().rglob("*.safetensors"))


@pytest.mark.slow
def test_run_trains_registers_a_version_atomically_and_a_retry_changes_nothing(course, instructor, tiny_model):
    schema = _sentiment(course)
    label_feedback(course, schema, {"positive": 20, "negative": 20, "neutral": 10})
    run = start_training_run(schema, course=course, config={**TINY, "base_model": tiny_model}, actor=instructor,
                             dispatch=False)
    run = run_training(run.pk)
    assert run.status == "succeeded", run.error
    version = run.model_version
    files = {p.name for p in registry.absolute(version.path).iterdir()}
    # A small version: its weights as a delta against the base model's parts, which the store keeps once.
    assert {registry.DELTA_FILE, "config.json", registry.META_FILE} <= files
    assert not files & {"model.safetensors", "tokenizer.json", "model.onnx"}
    assert registry.version_exists(registry.read_meta(version.path)["artifacts"]["base_parts"]["path"])
    assert version.base_parts == registry.read_meta(version.path)["artifacts"]["base_parts"]["path"]
    assert not any(p.suffix in (".bin", ".pt") for p in registry.absolute(version.path).iterdir())
    assert not any((registry.store_root() / ".tmp").iterdir())
    assert version.number == 1 and version.label_names == ["negative", "neutral", "positive"]
    assert {"accuracy", "f1_macro", "confusion_matrix", "per_class", "baseline"} <= set(version.metrics)
    assert run.data_summary["annotations"] == 50 and len(run.data_summary["training_set_sha256"]) == 64
    assert run.progress["step"] == run.progress["total_steps"] > 0
    assert run_training(run.pk).status == "succeeded" and ModelVersion.objects.count() == 1


@pytest.mark.slow
def test_a_collection_of_unused_base_parts_during_registration_never_breaks_the_new_version(
    course, instructor, tiny_model, monkeypatch, settings
):
    """The base parts were just published by this run and no row names them yet: a collection (no grace) in
    the middle of registration keeps them; and parts taken by hand before the row commits are put back."""
    from classifiers.classification.services import predictor_for
    from classifiers.training.versions import delete_unused_base_parts

    schema = _sentiment(course)
    label_feedback(course, schema, {"positive": 20, "negative": 20, "neutral": 10})
    settings.MODEL_STORE_BASE_PARTS_GRACE_S = 0
    finish, publish, collected = registry.finish_small_artifacts, registry.publish, []

    def collect_then_finish(build):
        collected.append(delete_unused_base_parts())
        finish(build)

    monkeypatch.setattr(registry, "finish_small_artifacts", collect_then_finish)
    run = run_training(start_training_run(schema, course=course, config={**TINY, "base_model": tiny_model},
                                          actor=instructor, dispatch=False).pk)
    assert run.status == "succeeded", run.error
    assert collected == [[]] and registry.version_exists(run.model_version.base_parts)

    def publish_then_lose_base_parts(build, relpath):
        parts = registry.base_parts_of(build)
        publish(build, relpath)
        registry.store().delete(parts["path"])

    monkeypatch.setattr(registry, "publish", publish_then_lose_base_parts)
    run = run_training(start_training_run(schema, course=course, config={**TINY, "base_model": tiny_model},
                                          actor=instructor, dispatch=False).pk)
    assert run.status == "succeeded", run.error
    version = run.model_version
    assert registry.version_exists(version.base_parts)  # published again once the row named them
    labels, _ = predictor_for(version).predict(["the lecture was great"])
    assert labels[0].labels


@pytest.mark.slow
def test_failed_run_leaves_active_version_and_store_untouched(course, instructor, tiny_model, monkeypatch):
    schema = _sentiment(course)
    label_feedback(course, schema, {"positive": 10, "negative": 10})
    live = activate_model_version(make_version(schema, course=course, number=1), actor=instructor, classify=False)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(registry, "save_small_artifacts", disk_full)
    run = start_training_run(schema, course=course, config={**TINY, "base_model": tiny_model}, actor=instructor,
                             dispatch=False)
    run = run_training(run.pk)
    assert run.status == "failed" and "No space left on device" in run.error
    assert list(ModelVersion.objects.all()) == [live] and ModelVersion.objects.get(pk=live.pk).is_active
    assert not any((registry.store_root() / ".tmp").iterdir())


def test_bad_base_model_is_reported_on_the_run(course, instructor, tmp_path):
    schema = _sentiment(course)
    label_feedback(course, schema, {"positive": 8, "negative": 8})
    run = start_training_run(schema, course=course, config={"base_model": str(tmp_path / "nope")}, actor=instructor,
                             dispatch=False)
    run = run_training(run.pk)
    assert run.status == "failed" and "nope" in run.error and run.finished_at
