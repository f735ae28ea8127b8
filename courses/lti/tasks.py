"""Celery tasks of the LTI tool: thin callers of roster.py (and grades.py)."""

from __future__ import annotations

from celery import shared_task

from . import grades, roster


# Idempotent: a sync reads the platform's roster and makes our rows match it, so running it twice (a
# redelivered message, a launch and the beat at once) changes nothing more. Platform errors are recorded on
# the RosterSync row by the service, so the task itself does not retry: the next launch or beat run does.
@shared_task(acks_late=True, time_limit=900, soft_time_limit=870, ignore_result=True)
def sync_roster_task(sync_id: int) -> int | None:
    outcome = roster.sync_roster(sync_id)
    return outcome.learners if outcome is not None else None


@shared_task(acks_late=True, time_limit=120, soft_time_limit=110, ignore_result=True)
def sync_due_rosters_task() -> int:
    """Beat: queue a sync of every roster not synced within LTI_ROSTER_SYNC_INTERVAL_S."""
    due = roster.due_rosters()
    for sync_id in due:
        roster.queue_sync(sync_id)
    return len(due)


class ScoresNotPosted(Exception):
    """The platform did not take the scores this time (an error that can heal); Celery retries."""


# Idempotent: rows are claimed before posting and a posted row is never posted again; a re-post after a
# crash carries the same timestamp. Retried with backoff only for errors that can heal (grades.py decides);
# whatever is still pending after the retries is picked up by the beat sweep below.
@shared_task(bind=True, acks_late=True, time_limit=600, soft_time_limit=570, ignore_result=True,
             autoretry_for=(ScoresNotPosted,), retry_backoff=30, retry_backoff_max=1800, max_retries=6)
def post_scores_task(self, line_item_id: int) -> int:  # noqa: ANN001 - Celery's bound task
    outcome = grades.post_scores(line_item_id)
    if outcome.retry:
        raise ScoresNotPosted(f"{outcome.waiting} score(s) of line item {line_item_id} still to post")
    return outcome.posted


@shared_task(acks_late=True, time_limit=120, soft_time_limit=110, ignore_result=True)
def sweep_scores_task() -> int:
    """Beat: queue the posting of every line item with due scores (a killed worker's, a closed anonymous
    survey's last batch, those the broker could not take at submission)."""
    due = grades.due_line_items()
    for line_item_id in due:
        grades.queue_posting(line_item_id)
    return len(due)
