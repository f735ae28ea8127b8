"""Themes through a real Celery worker on the real broker: a recomputation queued by the service embeds what is
missing and writes themes; once themes are in use, new feedback is embedded on arrival."""

from __future__ import annotations

import time

import pytest

from classifiers.themes.embeddings import pending_embeddings
from classifiers.themes.models import FeedbackEmbedding, Theme, ThemeRun
from classifiers.themes.services import start_theme_run
from courses.models import FeedbackSource
from courses.services import create_feedback
from tests.classifiers.themes.helpers import add_comments

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _torch_embeddings(monkeypatch, settings):
    # Both sides must agree on the embedding model: no ONNX export in tests, one thread in the worker.
    settings.EMBEDDING_BACKEND = "torch"
    monkeypatch.setenv("EMBEDDING_BACKEND", "torch")
    monkeypatch.setenv("INFERENCE_THREADS", "1")


def _wait_for(condition, timeout: float, worker, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.log_path.read_text()[-3000:]}")
        time.sleep(0.3)


def test_a_recomputation_runs_on_the_worker_and_new_feedback_is_embedded_on_arrival(
    celery_worker_process, course, instructor
):
    add_comments(course, "exam", 30)
    add_comments(course, "lab", 30)
    add_comments(course, "slides", 3, embed=False)  # the worker embeds these with the real model
    run = start_theme_run(course, actor=instructor)
    _wait_for(lambda: ThemeRun.objects.get(pk=run.pk).status in ("succeeded", "failed"), 120,
              celery_worker_process, "the theme run")
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.stats["comments"] == 63 and not pending_embeddings(course).exists()
    assert Theme.objects.filter(course=course, status="active").count() == 2

    item = create_feedback(course, text="The exam was far too long", source=FeedbackSource.API)
    _wait_for(lambda: FeedbackEmbedding.objects.filter(pk=item.pk).exists(), 60, celery_worker_process,
              "the on-arrival embedding")
    assert not pending_embeddings(course).exists()
