"""The screening sweep on a real Celery worker, SIGKILLed in the middle of a batch: the batch it held stays
pending (nothing half-done), no unscreened comment is quoted or shown by a report meanwhile, and a restarted
worker finishes the work with every comment screened exactly once.

The worker is stopped mid-batch deterministically: the test holds a row lock on one comment of the second
batch, so the worker's UPDATE of that batch's verdicts waits on it (seen in pg_stat_activity), and is killed
there, with its verdicts computed and not stored."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import psycopg
import pytest
from django.db import connection

from classifiers.reports.selectors import module_report
from classifiers.screening.models import UrgentNotification
from classifiers.tasks import screen_pending_task
from courses.models import Feedback, ScreeningStatus
from tests.classifiers.reports.report_data import add_feedback, version
from tests.classifiers.training.test_training_worker import _children
from tests.conftest import start_celery_worker
from tests.factories import ModuleFactory
from tests.support import database_url

pytestmark = pytest.mark.slow

BATCH = 3
# Oldest first, in batches of 3: [0 1 2] [3 4 5] [6]. The worker is killed in the second batch.
TEXTS = [
    "Great pacing",
    "Complete idiot, but an easy A",
    "More worked examples please",
    "I keep hurting myself when the deadlines pile up",
    "Labs were fun",
    "Clear slides",
    "Fair exam",
]
LOCKED = 4  # a comment of the second batch


def _wait_for(condition, timeout: float, worker, what: str):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    return found


def _backends_blocked_by(pid: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [pid])
        return [row[0] for row in cursor.fetchall()]


def _backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def _nothing_unscreened_is_shown(course, sentiment, *, awaiting: int) -> None:  # noqa: ANN001
    """The report (the selectors every staff-facing place uses) counts every comment, quotes only clear ones
    and says how many await review (pending or held)."""
    report = module_report(course, sentiment)
    quoted = {c.text for comments in report.modules[0].comments.values() for c in comments}
    clear = set(Feedback.objects.filter(screening=ScreeningStatus.CLEAR).values_list("redacted_text", flat=True))
    assert quoted and quoted <= clear
    assert report.total_responses == len(TEXTS) and report.awaiting_review == awaiting


@pytest.fixture
def transitions(transactional_db):
    """Every committed change of a comment's screening status, by a trigger: 'exactly once' is a count."""
    table = Feedback._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"""
            CREATE TABLE test_screening_transitions (feedback_id bigint, old text, new text);
            CREATE FUNCTION test_log_screening() RETURNS trigger AS $$ BEGIN
                INSERT INTO test_screening_transitions VALUES (NEW.id, OLD.screening, NEW.screening);
                RETURN NEW; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER test_log_screening AFTER UPDATE OF screening ON {table} FOR EACH ROW
                WHEN (OLD.screening IS DISTINCT FROM NEW.screening) EXECUTE FUNCTION test_log_screening();
        """)  # noqa: S608 - our own table name

    def read() -> list[tuple[int, str, str]]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT feedback_id, old, new FROM test_screening_transitions")
            return cursor.fetchall()

    yield read
    with connection.cursor() as cursor:
        cursor.execute(f"""
            DROP TRIGGER test_log_screening ON {table};
            DROP FUNCTION test_log_screening();
            DROP TABLE test_screening_transitions;
        """)


def test_a_worker_killed_mid_batch_leaves_it_pending_and_hidden_and_a_restarted_worker_screens_each_once(
    transitions, course, sentiment, request, monkeypatch, settings, tmp_path
):
    # The worker reads its batch size from the environment; this process (the "redelivery" below) from settings.
    monkeypatch.setenv("SCREENING_BATCH_SIZE", str(BATCH))
    settings.SCREENING_BATCH_SIZE = BATCH
    model = version(course)
    module = ModuleFactory(course=course, title="Week 1")
    items = [
        add_feedback(course, module, ["negative"], model=model, text=text, screening=ScreeningStatus.PENDING)[0]
        for text in TEXTS
    ]
    ids = [item.pk for item in items]
    assert module_report(course, sentiment).awaiting_review == len(TEXTS)

    holder = psycopg.connect(database_url())  # a transaction of its own, open until released below
    holder.execute(
        f"SELECT id FROM {Feedback._meta.db_table} WHERE id = %s FOR UPDATE",  # noqa: S608
        [ids[LOCKED]],
    )
    worker = request.getfixturevalue("celery_worker_process")
    try:
        screen_pending_task.delay()  # what the beat sends every minute
        blocked = _wait_for(
            lambda: _backends_blocked_by(holder.info.backend_pid), 60, worker, "the worker to store its second batch"
        )
        # Mid-batch: the first batch committed (and queued the second), the second is computed, not stored.
        assert dict(Feedback.objects.filter(pk__in=ids[:BATCH]).values_list("pk", "screening")) == {
            ids[0]: "clear",
            ids[1]: "held",
            ids[2]: "clear",
        }
        assert set(Feedback.objects.filter(screening="pending").values_list("pk", flat=True)) == set(ids[BATCH:])
        _nothing_unscreened_is_shown(course, sentiment, awaiting=len(TEXTS) - 2)

        for pid in [*_children(worker.pid), worker.pid]:
            os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        holder.rollback()
        holder.close()
    # The killed worker's database session finds its client gone and rolls back: nothing of the batch stays.
    _wait_for(
        lambda: not any(_backend_alive(pid) for pid in blocked),
        30,
        worker,
        "the killed worker's database session to end",
    )
    assert set(Feedback.objects.filter(screening="pending").values_list("pk", flat=True)) == set(ids[BATCH:])
    _nothing_unscreened_is_shown(course, sentiment, awaiting=len(TEXTS) - 2)
    assert Counter(pk for pk, _, _ in transitions()) == Counter(ids[:BATCH])
    first_batch = dict(Feedback.objects.filter(pk__in=ids[:BATCH]).values_list("pk", "screened_with"))

    restarted = start_celery_worker(tmp_path / "worker-restarted.log")
    try:
        screen_pending_task.delay()  # the beat's next minute
        _wait_for(
            lambda: not Feedback.objects.filter(screening="pending").exists(),
            60,
            restarted,
            "the restarted worker to screen the rest",
        )
        _wait_for(lambda: UrgentNotification.objects.exists(), 30, restarted, "the urgent comment's notification")
    finally:
        restarted.terminate()
        restarted.wait(timeout=20)

    verdicts = dict(Feedback.objects.values_list("pk", "screening"))
    assert verdicts == {
        ids[0]: "clear",
        ids[1]: "held",
        ids[2]: "clear",
        ids[3]: "urgent",
        ids[4]: "clear",
        ids[5]: "clear",
        ids[6]: "clear",
    }
    assert dict(Feedback.objects.filter(pk__in=ids[:BATCH]).values_list("pk", "screened_with")) == first_batch
    # The killed task's message, redelivered some day, finds nothing left to screen.
    assert screen_pending_task.apply().get() == 0
    log = transitions()
    assert Counter(pk for pk, _, _ in log) == Counter(ids)  # every comment screened exactly once
    assert all(old == "pending" for _, old, _ in log)
    assert UrgentNotification.objects.get().feedback_id == ids[3]
    _nothing_unscreened_is_shown(course, sentiment, awaiting=2)  # the held and the urgent one
