"""Classification through a real Celery worker on the real broker: on arrival, after a SIGKILL, and when
the broker was down while feedback arrived (the beat sweep classifies it later)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db.models import Count

from classifiers.classification.services import (
    pending_feedback,
    run_classification_chunk,
    run_classification_inline,
    start_classification_run,
)
from classifiers.models import ClassificationRun, Prediction
from classifiers.tasks import reap_stale_jobs_task, sweep_unclassified_task
from courses.models import Feedback, FeedbackSource
from courses.services import create_feedback
from tests.classifiers.classification.serving_helpers import LABELS, serving_version
from tests.classifiers.training.test_training_worker import _children
from tests.factories import FeedbackFactory
from tests.support import ROOT, database_url, token_client

pytestmark = pytest.mark.slow

CHUNK = 20  # small chunks: many tasks, so a kill lands mid-run


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch, settings):
    # Both sides must agree: this process cuts the run into chunks, the worker classifies one chunk per task.
    settings.CLASSIFY_CHUNK_SIZE = CHUNK
    monkeypatch.setenv("CLASSIFY_CHUNK_SIZE", str(CHUNK))
    monkeypatch.setenv("INFERENCE_THREADS", "1")


def _wait_for(condition, timeout: float, worker, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.log_path.read_text()[-3000:]}")
        time.sleep(0.2)


def _one_prediction_each(version) -> bool:  # noqa: ANN001
    counts = Prediction.objects.filter(model_version=version).values("feedback").annotate(n=Count("id"))
    return all(row["n"] == 1 for row in counts)


def test_feedback_created_after_activation_is_classified_by_the_worker(
    celery_worker_process, course, instructor, tiny_serving_dir
):
    version = serving_version(course, tiny_serving_dir)
    by_service = create_feedback(course, text="the lecture was great and clear", source=FeedbackSource.SURVEY)
    response = token_client(instructor).post(
        f"/api/courses/{course.code}/feedback/bulk/",
        {"items": [{"text": "boring and rushed"}, {"text": "Die Vorlesung war okay"}]}, format="json",
    )
    assert response.status_code == 201, response.content
    ids = [by_service.pk, *response.json()["ids"]]
    done = Prediction.objects.filter(model_version=version, feedback_id__in=ids)
    _wait_for(lambda: done.count() == 3, 60, celery_worker_process, "on-arrival predictions")
    assert set(done.values_list("label__name", flat=True)) <= set(LABELS)
    assert not ClassificationRun.objects.exists()  # arrivals are classified by id, without a run


def test_sigkilled_worker_mid_run_is_reaped_and_the_rerun_classifies_only_what_is_missing(
    celery_worker_process, course, tiny_serving_dir, settings
):
    total = 600
    FeedbackFactory.create_batch(total, course=course)
    version = serving_version(course, tiny_serving_dir, classify=True)  # activation queues the run on commit
    run = ClassificationRun.objects.get(model_version=version)
    assert run.chunks_total == total // CHUNK
    done = Prediction.objects.filter(model_version=version)
    deadline = time.monotonic() + 60
    while not done.exists():  # kill as soon as the first chunk is written
        assert time.monotonic() < deadline, celery_worker_process.log_path.read_text()[-3000:]
        time.sleep(0.005)
    for pid in [*_children(celery_worker_process.pid), celery_worker_process.pid]:
        os.kill(pid, signal.SIGKILL)
    celery_worker_process.wait(timeout=10)
    before = done.count()
    run.refresh_from_db()
    assert 0 < before < total, "the worker finished before it was killed; the run is too short to test"
    assert run.status == "running"  # no handler ran in the killed worker: only the reaper can tell

    settings.JOB_HEARTBEAT_TIMEOUT_S = 1
    time.sleep(1.5)
    assert reap_stale_jobs_task()["classification"] == 1
    run.refresh_from_db()
    assert run.status == "failed" and "stopped responding" in run.error and run.finished_at

    # The killed task's message is redelivered some day: it must not resurrect the run or write twice.
    first = Feedback.objects.filter(course=course).order_by("pk").first().pk
    assert run_classification_chunk(run.pk, first, first + total).status == "failed"
    assert done.count() == before

    rerun = start_classification_run(version, course=course, actor=None, dispatch=False)
    assert rerun.progress["pending"] == total - before
    rerun = run_classification_inline(rerun)
    assert rerun.status == "succeeded" and rerun.classified == total - before
    assert done.count() == total and _one_prediction_each(version)
    assert not pending_feedback(version).exists()


def test_feedback_saved_while_the_broker_is_down_is_classified_by_the_sweep(
    celery_worker_process, course, tiny_serving_dir
):
    version = serving_version(course, tiny_serving_dir)
    env = {**os.environ, "DATABASE_URL": database_url(), "CELERY_BROKER_URL": "redis://127.0.0.1:9/0",
           "CELERY_RESULT_BACKEND": "redis://127.0.0.1:9/0"}
    code = ("from courses.models import Course; from courses.services import create_feedback; "
            f"fb = create_feedback(Course.objects.get(pk={course.pk}), text='rushed and confusing', source='survey'); "
            "print('saved', fb.pk)")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert time.monotonic() - started < 60  # the write never waits long for a dead broker
    assert "broker unreachable" in proc.stderr
    feedback = Feedback.objects.get(pk=int(proc.stdout.split("saved")[1]))
    assert feedback.course == course and not feedback.predictions.exists()

    sweep_unclassified_task.apply_async()  # what beat sends every few minutes, through the real broker
    _wait_for(lambda: feedback.predictions.filter(model_version=version).exists(), 60, celery_worker_process,
              "the sweep to classify the item")
    run = ClassificationRun.objects.get(model_version=version)
    _wait_for(lambda: ClassificationRun.objects.get(pk=run.pk).status == "succeeded", 30, celery_worker_process,
              "the sweep's run to finish")
    assert ClassificationRun.objects.get(pk=run.pk).classified == 1 and _one_prediction_each(version)
