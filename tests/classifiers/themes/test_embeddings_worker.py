"""The embedding pass of a theme run on a real Celery worker (the `inference` queue, the base encoder), SIGKILLed
while it stores a chunk: the chunks it committed stay, nothing of the interrupted chunk is half-written, and the
next run on a restarted worker embeds only the rest, each comment's vector written exactly once.

The worker is stopped mid-chunk deterministically: the test holds a row lock on the outdated vector of one
comment of the second chunk (its text was edited since), so the worker's upsert of that chunk waits on it
(seen in pg_stat_activity) after writing the chunk's earlier rows in its transaction, and is killed there.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import numpy as np
import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from classifiers.ml.embeddings import to_bytes
from classifiers.themes.embeddings import current_spec, pending_embeddings, text_md5
from classifiers.themes.models import FeedbackEmbedding, ThemeRun
from classifiers.themes.services import start_theme_run
from courses.models import Feedback
from eduplatform.jobs import reap_stale_jobs
from tests.classifiers.screening.test_sweep_worker import _backend_alive, _backends_blocked_by, _wait_for
from tests.classifiers.training.test_training_worker import _children
from tests.conftest import start_celery_worker
from tests.support import database_url

pytestmark = pytest.mark.slow

CHUNK = 4
# Oldest first, in chunks of 4: [0 1 2 3] [4 5 6 7] [8 9 10 11]. The worker is killed storing the second.
TEXTS = [
    "The exam paper was far too long", "Lab sessions need more tutors", "Lecture slides are uploaded too late",
    "Exam questions did not match the lectures", "The lab machines crash during practicals",
    "The slides have many typos", "Past exam papers would help revision", "More lab time for the assignments",
    "Please share the slides before class", "The final exam timing was unfair", "Lab tutors were really helpful",
    "Slides are clear and well organised",
]
LOCKED = 5  # the second comment of the second chunk: the first one's row is written before the wait


def _stored() -> dict[int, tuple[str, bytes]]:
    """feedback id → (text md5, vector bytes) of every stored vector, current or not."""
    return {pk: (md5, bytes(vector)) for pk, md5, vector in
            FeedbackEmbedding.objects.values_list("feedback_id", "text_md5", "vector")}


@pytest.fixture
def writes(transactional_db):
    """Every committed write of a vector (insert or update), by a trigger: "exactly once" is a count."""
    table = FeedbackEmbedding._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"""
            CREATE TABLE test_embedding_writes (feedback_id bigint, op text, text_md5 text);
            CREATE FUNCTION test_log_embedding() RETURNS trigger AS $$ BEGIN
                INSERT INTO test_embedding_writes VALUES (NEW.feedback_id, TG_OP, NEW.text_md5);
                RETURN NEW; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER test_log_embedding AFTER INSERT OR UPDATE ON {table} FOR EACH ROW
                EXECUTE FUNCTION test_log_embedding();
        """)  # noqa: S608 - our own table name

    def read() -> list[tuple[int, str, str]]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT feedback_id, op, text_md5 FROM test_embedding_writes")
            return cursor.fetchall()

    yield read
    with connection.cursor() as cursor:
        cursor.execute(f"""
            DROP TRIGGER test_log_embedding ON {table};
            DROP FUNCTION test_log_embedding();
            DROP TABLE test_embedding_writes;
        """)


def _worker(log, name: str):  # noqa: ANN001, ANN202
    # Only the `inference` queue: the theme run and its embedding are routed there (settings.CELERY_TASK_ROUTES).
    return start_celery_worker(log, name=name, queues="inference", ready_s=120, env={
        "EMBED_CHUNK_SIZE": str(CHUNK), "EMBEDDING_BACKEND": "torch", "INFERENCE_THREADS": "1"})


def _kill(worker) -> None:  # noqa: ANN001
    for pid in [*_children(worker.pid), worker.pid]:
        os.kill(pid, signal.SIGKILL)
    worker.wait(timeout=10)


def test_a_worker_killed_storing_a_chunk_keeps_the_chunks_before_it_and_the_next_run_embeds_only_the_rest(
    writes, course, instructor, settings, tmp_path
):
    from eduplatform.celery import app

    # The base encoder the product uses offline (BASE_MODEL), without the ONNX export: quicker to load.
    settings.EMBEDDING_BACKEND = "torch"
    settings.EMBED_CHUNK_SIZE = CHUNK
    key = current_spec().key
    items = Feedback.objects.bulk_create(
        Feedback(course=course, source="import", original_text=t, redacted_text=t, screening="clear",
                 submitted_at=timezone.now())
        for t in TEXTS
    )
    ids = [item.pk for item in items]
    # The locked comment's vector is outdated: its text was edited since it was embedded.
    FeedbackEmbedding.objects.create(feedback=items[LOCKED], model_key=key, text_md5=text_md5("an older wording"),
                                     vector=to_bytes(np.full(384, 384 ** -0.5, dtype=np.float32)))
    outdated = _stored()[ids[LOCKED]]
    writes_before = len(writes())
    assert pending_embeddings(course).count() == len(TEXTS)

    app.control.purge()
    holder = psycopg.connect(database_url())  # a transaction of its own, open until released below
    holder.execute(f"SELECT 1 FROM {FeedbackEmbedding._meta.db_table} WHERE feedback_id = %s FOR UPDATE",  # noqa: S608
                   [ids[LOCKED]])
    worker = _worker(tmp_path / "worker.log", "embed-killed")
    try:
        first = start_theme_run(course, actor=instructor)
        blocked = _wait_for(lambda: _backends_blocked_by(holder.info.backend_pid), 240, worker,
                            "the worker to store its second chunk")
        # Mid-chunk: the first chunk is committed (and its heartbeat says so), the second computed, not stored.
        running = ThemeRun.objects.get(pk=first.pk)
        assert running.status == "running" and running.progress == {"stage": "embedding", "embedded": CHUNK}
        assert set(_stored()) == {*ids[:CHUNK], ids[LOCKED]}
        _kill(worker)
    finally:
        holder.rollback()
        holder.close()
        if worker.poll() is None:
            _kill(worker)
    # The killed worker's database session finds its client gone and rolls back: nothing of the chunk stays.
    _wait_for(lambda: not any(_backend_alive(pid) for pid in blocked), 30, worker,
              "the killed worker's database session to end")
    stored = _stored()
    assert set(stored) == {*ids[:CHUNK], ids[LOCKED]}
    assert stored[ids[LOCKED]] == outdated  # not half-updated either
    assert set(pending_embeddings(course).values_list("pk", flat=True)) == set(ids[CHUNK:])
    first_chunk = {pk: stored[pk] for pk in ids[:CHUNK]}
    assert Counter(pk for pk, _, _ in writes()[writes_before:]) == Counter(ids[:CHUNK])

    # The reaper fails the run whose heartbeat stopped; staff (or the beat) start the next one.
    time.sleep(1.1)
    assert reap_stale_jobs(ThemeRun, timeout_s=1) == 1
    assert ThemeRun.objects.get(pk=first.pk).status == "failed"
    restarted = _worker(tmp_path / "worker-restarted.log", "embed-restarted")
    try:
        second = start_theme_run(course, actor=instructor)
        _wait_for(lambda: ThemeRun.objects.get(pk=second.pk).status in ("succeeded", "failed"), 240, restarted,
                  "the second theme run")
    finally:
        restarted.terminate()
        restarted.wait(timeout=20)

    second.refresh_from_db()
    assert second.status == "succeeded", second.error
    assert second.stats["comments"] == len(TEXTS) and second.stats["embedding_model"] == key
    # Each comment has exactly one vector, current (this model, its text); the first chunk's were not redone.
    stored = _stored()
    assert set(stored) == set(ids) and not pending_embeddings(course).exists()
    assert set(FeedbackEmbedding.objects.values_list("model_key", flat=True)) == {key}
    assert {pk: md5 for pk, (md5, _) in stored.items()} == {item.pk: text_md5(item.redacted_text) for item in items}
    assert {pk: stored[pk] for pk in ids[:CHUNK]} == first_chunk
    log = writes()[writes_before:]
    assert Counter(pk for pk, _, _ in log) == Counter(ids)  # every comment embedded exactly once
    assert [op for pk, op, _ in log if pk == ids[LOCKED]] == ["UPDATE"]  # the outdated vector replaced in place
