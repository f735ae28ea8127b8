"""Serving a version: ONNX agrees with torch, int8 is chosen by its accuracy, exports load in a plain
pipeline, and bad input (empty, very long, any language) never crashes a run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import call_command

from classifiers import registry
from classifiers.classification.services import (
    EMPTY_REASON,
    classify_pending,
    run_classification_inline,
    start_classification_run,
)
from classifiers.ml.inference import encode, onnx_runner, predict_logits, torch_runner
from classifiers.ml.serving import INT8_MAX_ACCURACY_DROP, ONNX_INT8_FILE, Predictor, onnx_session
from classifiers.models import ClassificationRun, ModelVersion, Prediction, PredictionSkip
from courses.models import Feedback
from tests.classifiers.classification.serving_helpers import LABELS, MAX_LENGTH, serving_version
from tests.classifiers.helpers import WORDS
from tests.factories import FeedbackFactory

pytestmark = pytest.mark.django_db

SENTENCES = [f"the lecture was {w} and {WORDS[n][(i + 1) % 5]}" for n in LABELS for i, w in enumerate(WORDS[n])]


def test_onnx_fp32_agrees_with_torch_on_the_fine_tuned_model(tiny_serving_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_serving_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_serving_dir)
    texts = SENTENCES * 4 + [f"{s} but the room was cold" for s in SENTENCES]
    enc = encode(tok, texts, MAX_LENGTH)
    ref = predict_logits(torch_runner(model), enc, pad_id=tok.pad_token_id, num_labels=3)
    fp32 = predict_logits(onnx_runner(onnx_session(tiny_serving_dir / "model.onnx", 1)), enc,
                          pad_id=tok.pad_token_id, num_labels=3)
    assert (ref.argmax(-1) == fp32.argmax(-1)).mean() >= 0.995
    assert np.abs(ref - fp32).max() < 1e-3
    # The model learnt something (so agreement is not two constant predictors agreeing).
    assert len(set(ref.argmax(-1).tolist())) >= 2
    check = json.loads((tiny_serving_dir / "serving-check.json").read_text())
    assert check["agreement_fp32"] >= 0.995


def test_int8_is_served_exactly_when_the_accuracy_check_allows_it(tiny_serving_dir, course):
    check = json.loads((tiny_serving_dir / "serving-check.json").read_text())
    assert check["use_int8"] == (check["int8_accuracy_delta"] <= INT8_MAX_ACCURACY_DROP)
    assert check["int8_accuracy_delta"] == pytest.approx(check["torch_accuracy"] - check["int8_accuracy"], abs=1e-6)
    version = serving_version(course, tiny_serving_dir)
    assert version.use_int8 == check["use_int8"]
    int8 = Predictor(registry.absolute(version.path), use_int8=True, threads=1)
    assert int8.backend == "onnx"
    outputs, _ = int8.predict(SENTENCES)
    assert {o.labels[0] for o in outputs} <= set(LABELS)
    assert (registry.absolute(version.path) / ONNX_INT8_FILE).stat().st_size < (
        registry.absolute(version.path) / "model.onnx").stat().st_size


def test_exported_version_loads_in_a_plain_pipeline_with_the_products_labels(tiny_serving_dir, course, tmp_path):
    from transformers import pipeline

    version = serving_version(course, tiny_serving_dir)
    # Served in fp32 here: int8 may legitimately flip a near-tie, and this is about the export, not int8.
    ModelVersion.objects.filter(pk=version.pk).update(use_int8=False)
    version.refresh_from_db()
    items = [FeedbackFactory(course=course, original_text=t) for t in SENTENCES]
    run = run_classification_inline(start_classification_run(version, course=course, actor=None, dispatch=False))
    assert run.status == "succeeded" and run.classified == len(items)
    call_command("export_model", str(version.pk), str(tmp_path / "export"))
    assert {"config.json", "model.safetensors", "model.onnx", "eduplatform.json"} <= {
        p.name for p in (tmp_path / "export").iterdir()}
    classifier = pipeline("text-classification", model=str(tmp_path / "export"), device="cpu")
    theirs = [out["label"] for out in classifier(SENTENCES, batch_size=8, truncation=True)]
    ours = dict(Prediction.objects.filter(model_version=version).values_list("feedback__redacted_text", "label__name"))
    assert theirs == [ours[t] for t in SENTENCES]


def test_empty_or_whitespace_text_is_skipped_with_a_reason_and_not_retried(tiny_serving_dir, course):
    version = serving_version(course, tiny_serving_dir)
    # Staff can redact a comment down to nothing; zero-width characters alone are no text either.
    blank = FeedbackFactory(course=course, original_text="x", redacted_text=" \n\t ")
    empty = FeedbackFactory(course=course, original_text="x", redacted_text="")
    invisible = FeedbackFactory(course=course, original_text="\u200b\u200b", redacted_text="\u200b \ufeff")
    fine = FeedbackFactory(course=course, original_text="the lecture was great")
    result = classify_pending(version)
    assert (result.classified, result.skipped) == (1, 3)
    assert set(PredictionSkip.objects.filter(model_version=version).values_list("feedback_id", "reason")) == {
        (blank.pk, EMPTY_REASON), (empty.pk, EMPTY_REASON), (invisible.pk, EMPTY_REASON)}
    assert list(Prediction.objects.values_list("feedback_id", flat=True)) == [fine.pk]
    run = start_classification_run(version, course=course, actor=None, dispatch=False)
    assert run.status == "succeeded" and run.progress["pending"] == 0  # skipped items are not pending


def test_very_long_text_is_truncated_and_marked(tiny_serving_dir, course):
    version = serving_version(course, tiny_serving_dir)
    long = FeedbackFactory(course=course, original_text="the lecture was great and clear. " * 300)
    short = FeedbackFactory(course=course, original_text="the lecture was great")
    run = run_classification_inline(start_classification_run(version, course=course, actor=None, dispatch=False))
    assert run.classified == 2 and run.progress["truncated"] == 1
    flags = dict(Prediction.objects.values_list("feedback_id", "truncated"))
    assert flags == {long.pk: True, short.pk: False}


def test_text_in_any_language_or_script_is_classified(tiny_serving_dir, course):
    version = serving_version(course, tiny_serving_dir)
    texts = ["Die Vorlesung war sehr gut", "讲座很无聊", "المحاضرة كانت رائعة", "лекция была скучной",
             "😀😀👍", "\u200b\u200bok", "\u0007 control", "x" * 3000, "ℌ𝔢𝔩𝔩𝔬 ｗｏｒｌｄ"]
    items = [FeedbackFactory(course=course, original_text=t) for t in texts]
    run = run_classification_inline(start_classification_run(version, course=course, actor=None, dispatch=False))
    assert run.status == "succeeded" and run.classified == len(items)
    for pred in Prediction.objects.filter(model_version=version):
        assert pred.label.name in LABELS and 0 <= pred.confidence <= 1
        assert sum(pred.scores.values()) == pytest.approx(1, abs=1e-3)


def test_a_run_records_where_its_time_went(tiny_serving_dir, course, settings):
    settings.CLASSIFY_CHUNK_SIZE = 4
    version = serving_version(course, tiny_serving_dir)
    for t in SENTENCES:
        FeedbackFactory(course=course, original_text=t)
    run = run_classification_inline(start_classification_run(version, course=course, actor=None, dispatch=False))
    assert run.chunks_total == run.chunks_done == 4 and run.classified == len(SENTENCES)
    assert 0 < run.progress["db_s"] < run.progress["wall_s"] and run.progress["model_s"] > 0
    assert ClassificationRun.objects.get(pk=run.pk).progress["pending"] == len(SENTENCES)
    assert Feedback.objects.filter(course=course, predictions__isnull=True).count() == 0


def test_threads_are_shared_among_the_workers_processes(monkeypatch, tiny_serving_dir):
    from classifiers.ml import serving
    monkeypatch.setattr(serving, "available_cores", lambda: 4)
    monkeypatch.delenv("INFERENCE_PROCESSES", raising=False)
    assert serving.default_threads() == 4
    monkeypatch.setenv("INFERENCE_PROCESSES", "2")  # set by the worker_init receiver of eduplatform.celery
    assert serving.default_threads() == 2 and Predictor(tiny_serving_dir).threads == 2
    monkeypatch.setenv("INFERENCE_PROCESSES", "8")
    assert serving.default_threads() == 1
    assert Predictor(tiny_serving_dir, threads=3).threads == 3  # INFERENCE_THREADS wins when set


def test_when_no_int8_variant_is_accurate_enough_fp32_serves_and_the_best_int8_file_is_kept(
    tiny_serving_dir, tmp_path, monkeypatch
):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from classifiers.ml import serving
    tok = AutoTokenizer.from_pretrained(tiny_serving_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_serving_dir)
    truth = [LABELS.index(n) for n in LABELS for _ in WORDS[n]]
    monkeypatch.setattr(serving, "INT8_MAX_ACCURACY_DROP", -1.0)  # nothing can pass
    check = serving.export_and_check(model, tok, tmp_path, SENTENCES, truth, max_length=MAX_LENGTH, num_labels=3)
    assert not check.use_int8 and set(check.int8_variant_accuracy) == set(serving.INT8_VARIANTS)
    assert check.int8_accuracy == max(check.int8_variant_accuracy.values())
    assert check.int8_variant_accuracy[check.int8_variant] == check.int8_accuracy
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == [ONNX_INT8_FILE, "model.onnx"]  # no variant left over
    enc = encode(tok, SENTENCES, MAX_LENGTH)
    on_disk = predict_logits(onnx_runner(onnx_session(tmp_path / ONNX_INT8_FILE, 1)), enc,
                             pad_id=tok.pad_token_id, num_labels=3).argmax(-1)
    assert float((on_disk == np.asarray(truth)).mean()) == pytest.approx(check.int8_accuracy)


def test_sweep_fails_a_run_whose_tasks_were_lost_and_queues_the_backlog_again(tiny_serving_dir, course):
    from datetime import timedelta

    from django.utils import timezone

    from classifiers.classification.services import QUEUED_RUN_TIMEOUT_S, sweep_unclassified

    version = serving_version(course, tiny_serving_dir)
    FeedbackFactory.create_batch(3, course=course)
    lost = start_classification_run(version, course=course, actor=None, dispatch=False)  # queued, no task comes
    assert sweep_unclassified() == {"runs_started": 0, "lost_runs_failed": 0}  # still honestly waiting
    ClassificationRun.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(seconds=QUEUED_RUN_TIMEOUT_S + 1))
    assert sweep_unclassified() == {"runs_started": 1, "lost_runs_failed": 1}
    lost.refresh_from_db()
    assert lost.status == "failed" and "lost" in lost.error
    fresh = ClassificationRun.objects.exclude(pk=lost.pk).get(model_version=version)
    assert fresh.status == "queued" and fresh.progress["pending"] == 3
