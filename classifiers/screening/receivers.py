"""On arrival: comments left pending at ingest go to the trained screen, urgent ones to student support.

Both run after the creating transaction commits (courses.services.announce_feedback); both only queue
tasks, and the beat sweeps catch whatever a broker outage drops."""

from __future__ import annotations

from django.dispatch import receiver

from courses.signals import feedback_created, feedback_urgent


@receiver(feedback_created, dispatch_uid="screening.screen_on_arrival")
def screen_on_arrival(
    sender: object, course_id: int, feedback_ids: list[int], pending_ids: list[int], **_: object
) -> None:
    from classifiers.screening.services import queue_screening

    queue_screening(pending_ids)


@receiver(feedback_urgent, dispatch_uid="screening.notify_urgent")
def notify_urgent(sender: object, course_id: int, feedback_ids: list[int], **_: object) -> None:
    from classifiers.screening.notifications import queue_urgent_notifications

    queue_urgent_notifications(feedback_ids)
