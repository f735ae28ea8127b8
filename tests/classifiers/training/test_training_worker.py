"""Training through a real Celery worker on the real broker; a SIGKILLed worker never leaves a run running."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from classifiers.ml.training import MAX_EPOCHS, MAX_PATIENCE
from classifiers.models import ModelVersion, TrainingRun
from classifiers.selectors import active_version_for
from classifiers.tasks import reap_stale_jobs_task
from classifiers.training.services import run_training, start_training_run
from tests.classifiers.helpers import label_feedback
from tests.classifiers.tiny import tiny_bert

pytestmark = pytest.mark.slow

TINY = {"learning_rate": 5e-3, "batch_size": 16, "freeze_embeddings": False, "max_length": 32}


def _wait(run: TrainingRun, until, timeout: float, worker) -> TrainingRun:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not until(run):
        if time.monotonic() > deadline:
            log = worker.log_path.read_text()[-3000:]
            pytest.fail(f"run {run.pk} is {run.status} {run.progress}; worker log:\n{log}")
        time.sleep(0.5)
        run.refresh_from_db()
    return run


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_worker_trains_a_tiny_model_end_to_end_and_activates_it(celery_worker_process, course, instructor, tmp_path):
    schema = course.schemas.get(name="sentiment")
    label_feedback(course, schema, {"positive": 20, "negative": 20, "neutral": 10})
    config = {**TINY, "epochs": 3, "base_model": tiny_bert(tmp_path / "tiny")}
    run = start_training_run(schema, course=course, config=config, actor=instructor)
    run = _wait(run, lambda r: not r.is_active, 120, celery_worker_process)
    assert run.status == "succeeded", run.error
    assert run.started_at and run.finished_at and run.heartbeat_at and run.metrics["f1_macro"] >= 0
    version = ModelVersion.objects.get(training_run=run)
    assert version.is_active == version.beats_baseline
    if version.beats_baseline:
        assert active_version_for(schema, course) == version


def test_sigkilled_worker_leaves_the_run_failed_not_running(celery_worker_process, course, instructor, tmp_path,
                                                             settings):
    schema = course.schemas.get(name="sentiment")
    label_feedback(course, schema, {"positive": 20, "negative": 20})
    config = {**TINY, "epochs": MAX_EPOCHS, "patience": MAX_PATIENCE, "base_model": tiny_bert(tmp_path / "tiny")}
    run = start_training_run(schema, course=course, config=config, actor=instructor)
    run = _wait(run, lambda r: r.status == "running" and r.progress.get("step", 0) > 0, 90, celery_worker_process)
    for pid in [*_children(celery_worker_process.pid), celery_worker_process.pid]:
        os.kill(pid, signal.SIGKILL)
    celery_worker_process.wait(timeout=10)
    run.refresh_from_db()
    assert run.status == "running"  # nothing ran a failure handler: only the reaper can tell
    settings.JOB_HEARTBEAT_TIMEOUT_S = 3
    time.sleep(4)
    assert reap_stale_jobs_task()["training"] == 1
    run.refresh_from_db()
    assert run.status == "failed" and "stopped responding" in run.error and run.finished_at
    assert not ModelVersion.objects.exists()
    assert run_training(run.pk).status == "failed"  # a redelivered message does not resurrect it


@pytest.mark.django_db
def test_the_real_default_model_trains_a_few_steps(course, instructor):
    schema = course.schemas.get(name="sentiment")
    label_feedback(course, schema, {"positive": 12, "negative": 12, "neutral": 10})
    run = start_training_run(schema, course=course, config={"max_steps": 3, "batch_size": 8, "max_length": 32},
                             actor=instructor, dispatch=False)
    run = run_training(run.pk)
    assert run.status == "succeeded", run.error
    assert run.progress["step"] == 3 and "f1_macro" in run.metrics
    assert ModelVersion.objects.get(training_run=run).base_model.endswith("model")
