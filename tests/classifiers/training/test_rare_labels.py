"""Rare labels: a label with too few examples is left out of the run (and every page says so) instead of
refusing the whole schema; `rare_labels = refuse` keeps the old refusal."""

from __future__ import annotations

import re
import time

import pytest
from django.core.management import call_command
from django.urls import reverse

from classifiers.labelling.schemas import create_schema
from classifiers.models import LabelSchema, ModelVersion, RareLabels, TrainingRun
from classifiers.training.services import TrainingRefused, run_training, start_training_run
from classifiers.training.versions import activate_model_version
from tests.classifiers.helpers import label_feedback
from tests.classifiers.tiny import tiny_bert

SCALE = ["1", "2", "3", "4", "5", "6", "7"]
# Points 1-6 with enough examples, 7 with two: the schema that could not train at all before.
COUNTS = {**{name: 8 for name in SCALE[:6]}, "7": 2}
TINY = {"epochs": 2, "learning_rate": 5e-3, "batch_size": 16, "freeze_embeddings": False, "max_length": 32}
WARNING = "label 7: 2 examples, not learned; this version never predicts it"
OLD_REFUSAL = "every label needs at least 8 annotated examples; too few for: 7 (2)"


def _text(response) -> str:
    return " ".join(response.content.decode().split())


def _stars(course, *, rare_labels: str = RareLabels.LEAVE_OUT) -> LabelSchema:
    schema = create_schema("stars", kind="ordinal", course=course, labels=SCALE, rare_labels=rare_labels, actor=None)
    label_feedback(course, schema, COUNTS)
    return schema


@pytest.mark.django_db
def test_a_rare_label_no_longer_refuses_the_schema_and_the_queued_run_says_what_it_leaves_out(course, instructor):
    run = start_training_run(_stars(course), course=course, actor=instructor, dispatch=False)
    assert run.status == "queued"
    assert run.warnings == [WARNING] and run.data_summary["not_learned"] == {"7": 2}


@pytest.mark.django_db
def test_the_refuse_setting_restores_the_old_refusal(course, instructor):
    schema = _stars(course, rare_labels=RareLabels.REFUSE)
    with pytest.raises(TrainingRefused, match=f"^{re.escape(OLD_REFUSAL)}$"):
        start_training_run(schema, course=course, actor=instructor)
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_fewer_than_two_learnable_labels_is_still_refused_with_the_counts(course, instructor, sentiment):
    label_feedback(course, sentiment, {"positive": 12, "negative": 3, "neutral": 7})
    with pytest.raises(TrainingRefused) as refused:
        start_training_run(sentiment, course=course, actor=instructor)
    assert str(refused.value) == (
        "need at least 2 labels with at least 8 annotated examples each to train, found 1 (positive (12)); "
        "too few for: negative (3), neutral (7); annotate more feedback first"
    )
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_the_worker_applies_the_setting_it_finds_when_the_run_starts(course, instructor):
    schema = _stars(course)
    run = start_training_run(schema, course=course, actor=instructor, dispatch=False)
    LabelSchema.objects.filter(pk=schema.pk).update(rare_labels=RareLabels.REFUSE)
    run = run_training(run.pk)
    assert (run.status, run.error) == ("failed", OLD_REFUSAL)
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
def test_the_train_command_prints_the_warning(course, instructor, capsys):
    _stars(course)
    call_command("train", course.code, "--schema", "stars", "--as", instructor.username)
    assert f"warning: {WARNING}" in capsys.readouterr().err
    run = TrainingRun.objects.get()  # queued on commit, which this test's transaction never reaches
    assert run.warnings == [WARNING]


@pytest.mark.slow
@pytest.mark.django_db
def test_a_schema_with_one_rare_label_trains_on_the_others_and_every_page_says_which_is_not_learned(
        client, course, instructor, annotator, tmp_path_factory):
    schema = _stars(course)
    config = {**TINY, "base_model": tiny_bert(tmp_path_factory.getbasetemp() / "tiny-bert")}
    run = run_training(start_training_run(schema, course=course, config=config, actor=instructor,
                                          dispatch=False).pk)
    assert run.status == "succeeded", run.error
    version = run.model_version
    assert version.label_names == SCALE[:6] and version.not_learned == {"7": 2}
    assert version.metrics["warnings"] == [WARNING] and run.metrics["warnings"] == [WARNING]
    assert set(version.metrics["per_class"]) == set(SCALE[:6])
    assert run.warnings == [WARNING] and run.data_summary["class_balance"] == {n: 8 for n in SCALE[:6]}
    assert run.data_summary["validation_size"] + run.data_summary["train_size"] == 48  # the two 7s in neither
    if not version.is_active:
        activate_model_version(version, actor=instructor, override=True, classify=False)

    client.force_login(instructor)
    for url in (reverse("admin:classifiers_modelversion_change", args=[version.pk]),
                reverse("admin:classifiers_trainingrun_change", args=[run.pk])):
        page = client.get(url)
        assert page.status_code == 200 and WARNING in page.content.decode(), url
    report = client.get(reverse("reports:course_report", kwargs={"course_code": course.code}) + "?schema=stars")
    assert report.status_code == 200
    assert "never predicts:</strong> 7 (2 examples when trained)" in _text(report)
    client.force_login(annotator)
    annotate = client.get(reverse("admin:classifiers_annotate", args=[schema.pk, course.pk]))
    assert f"The active model (v{version.number}) never predicts: 7 (2 examples when trained)" in _text(annotate)


@pytest.mark.slow
def test_through_a_real_worker_the_rare_label_is_left_out_and_recorded(celery_worker_process, course, instructor,
                                                                       tmp_path):
    schema = _stars(course)
    run = start_training_run(schema, course=course, config={**TINY, "base_model": tiny_bert(tmp_path / "tiny")},
                             actor=instructor)
    deadline = time.monotonic() + 180
    while run.is_active:
        if time.monotonic() > deadline:
            log = celery_worker_process.log_path.read_text()[-3000:]
            pytest.fail(f"run {run.pk} is {run.status}; worker log:\n{log}")
        time.sleep(0.5)
        run.refresh_from_db()
    assert run.status == "succeeded", run.error
    version = ModelVersion.objects.get(training_run=run)
    assert version.label_names == SCALE[:6] and version.not_learned == {"7": 2}
    assert run.warnings == [WARNING] and version.metrics["warnings"] == [WARNING]
