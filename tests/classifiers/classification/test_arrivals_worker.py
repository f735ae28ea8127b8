"""On-arrival batching through real Celery workers on the real broker: a burst over several courses is classified
once per comment with a model load per version, and a worker SIGKILLed in the middle of a batch leaves nothing
unclassified or doubled once a worker is started again (its recovering drain takes over the lapsed claim)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.db.models import Count

from classifiers.classification import arrivals
from classifiers.classification.services import MODEL_EVENTS_KEY
from classifiers.models import Prediction
from courses.models import FeedbackSource
from courses.services import NewFeedback, create_feedback, ingest_feedback
from eduplatform.celery import app
from eduplatform.telemetry import client, read
from tests.classifiers.classification.serving_helpers import serving_version
from tests.classifiers.training.test_training_worker import _children
from tests.conftest import start_celery_worker
from tests.factories import CourseFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHUNK = 20  # small chunks: a batch of hundreds takes many commits, so the kill lands mid-batch
CLAIM_S = 3


@pytest.fixture(autouse=True)
def _worker_settings(monkeypatch, settings):
    for name, value in {
        "CLASSIFY_CHUNK_SIZE": CHUNK,
        "CLASSIFY_CLAIM_TTL_S": CLAIM_S,
        "CLASSIFY_DEBOUNCE_S": 0.5,
        "INFERENCE_THREADS": 1,
    }.items():
        monkeypatch.setenv(name, str(value))
        setattr(settings, name, value)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("inference")
    client().delete(MODEL_EVENTS_KEY)


def start_worker(log: Path, name: str) -> subprocess.Popen:
    """A prefork worker (concurrency 1) on the inference queue."""
    return start_celery_worker(log, name=name, queues="inference", ready_s=240)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _wait_for(condition, timeout: float, log: Path, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker log:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def _counts(ids: list[int]) -> dict[int, int]:
    return dict(Prediction.objects.filter(feedback_id__in=ids).values_list("feedback").annotate(n=Count("id")))


def test_a_burst_over_several_courses_is_classified_once_with_a_load_per_version(tiny_serving_dir, tmp_path):
    courses = [CourseFactory(code=f"C{i}") for i in range(4)]
    for course in courses:
        serving_version(course, tiny_serving_dir)
    worker = start_worker(tmp_path / "worker.log", "burst")
    try:
        ids = [
            create_feedback(courses[i % 4], text=f"the lecture was great {i}", source=FeedbackSource.SURVEY).pk
            for i in range(80)
        ]  # one transaction each, the courses interleaved
        _wait_for(lambda: len(_counts(ids)) == 80, 120, tmp_path / "worker.log", "every comment classified")
    finally:
        stop(worker)
    assert set(_counts(ids).values()) == {1}
    loads = sum(n for field, n in read(MODEL_EVENTS_KEY).items() if field.endswith("|load"))
    assert loads == 4  # one per version: 80 comments did not load 80 models


def test_a_worker_killed_mid_batch_leaves_every_comment_classified_exactly_once(tiny_serving_dir, tmp_path):
    course = CourseFactory(code="C1")
    version = serving_version(course, tiny_serving_dir)
    first = start_worker(tmp_path / "first.log", "first")
    total = 1500
    created = ingest_feedback(
        course, [NewFeedback(text=f"boring and rushed {i}") for i in range(total)], source=FeedbackSource.SURVEY
    )  # one arrival of 1,500 comments: one batch
    ids = [feedback.pk for feedback in created]
    done = Prediction.objects.filter(model_version=version)
    deadline = time.monotonic() + 120
    while not done.exists():  # kill as soon as the first chunk is written
        assert time.monotonic() < deadline, (tmp_path / "first.log").read_text()[-3000:]
        time.sleep(0.005)
    for pid in [*_children(first.pid), first.pid]:
        os.kill(pid, signal.SIGKILL)
    first.wait(timeout=10)
    before = done.count()
    assert 0 < before < total, "the batch finished before the kill; make it longer"
    assert client().hexists(arrivals.CLAIMS_KEY, version.pk)  # the dead drainer's claim is left behind

    second = start_worker(tmp_path / "second.log", "second")  # the worker restarted
    try:
        _wait_for(lambda: done.count() == total, 120, tmp_path / "second.log", "the batch to be finished")
    finally:
        stop(second)
    counts = _counts(ids)
    assert len(counts) == total and set(counts.values()) == {1}
    assert not client().hlen(arrivals.CLAIMS_KEY) and arrivals.pending_versions() == 0
