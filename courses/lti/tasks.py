"""Celery tasks of the LTI tool: thin callers of roster.py (and grades.py)."""

from __future__ import annotations

from celery import shared_task

from . import roster


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
