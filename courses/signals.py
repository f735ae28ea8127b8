"""Signals other apps listen to; courses knows nothing of who listens (imports point one way)."""

from django.dispatch import Signal

# Sent after the creating transaction commits, with `feedback_ids: list[int]`, `course_id: int` and
# `pending_ids: list[int]`: those of `feedback_ids` the ingest screen left `pending` (for the trained screen).
feedback_created = Signal()

# Sent after the creating transaction commits, with the ids of comments the screen found urgent (a student
# who may be at risk), anonymous survey answers included; `feedback_ids: list[int]`, `course_id: int`.
feedback_urgent = Signal()
