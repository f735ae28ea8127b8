"""Urgent comments to student support: one notification row per comment (sent once), queued on commit and
sent by a Celery task through Django's mail backend and/or a webhook; a beat sweep re-queues what the broker
or the mail server lost. The message carries the comment and its course, never who wrote an anonymous one.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from classifiers.screening.models import NotificationStatus, UrgentNotification
from courses.models import Feedback, FeedbackSource, ScreeningStatus
from eduplatform.errors import BROKER_ERRORS

logger = logging.getLogger(__name__)

# Errors of the mail server or the webhook that may heal: retried with backoff (classifiers.tasks).
DELIVERY_ERRORS = (smtplib.SMTPException, urllib.error.URLError, TimeoutError, ConnectionError)
MAX_ATTEMPTS = 5
REQUEUE_AFTER = timedelta(minutes=2)  # a queued notification older than this lost its message: queue again


class NotDelivered(Exception):
    """A channel refused or failed; the message says which and why."""


def support_contacts() -> tuple[str, str]:
    """(e-mail, webhook URL) of student support; either may be empty."""
    from classifiers.screening.services import screening_policy

    return screening_policy().support_email or settings.SCREENING_SUPPORT_EMAIL, settings.SCREENING_SUPPORT_WEBHOOK_URL


def queue_urgent_notifications(feedback_ids: Sequence[int]) -> list[int]:
    """A notification row per urgent comment that has none yet, each sent by its own task. Called on commit;
    a broker outage leaves the rows queued for the sweep. Returns the new rows' ids."""
    items = Feedback.objects.filter(pk__in=list(feedback_ids), screening=ScreeningStatus.URGENT,
                                    urgent_notification__isnull=True)
    ids = []
    for pk, course_id in items.values_list("pk", "course_id"):  # a few a day: one row each is fine
        # Unique per comment: a row queued meanwhile (by the sweep) is the one sent, not a second.
        notification, created = UrgentNotification.objects.get_or_create(feedback_id=pk,
                                                                          defaults={"course_id": course_id})
        if created:
            ids.append(notification.pk)
    _enqueue(ids)
    return ids


def _enqueue(notification_ids: Sequence[int]) -> None:
    from classifiers.tasks import send_urgent_notification_task

    try:
        for pk in notification_ids:
            send_urgent_notification_task.apply_async((pk,), retry=False)
    except BROKER_ERRORS:  # the rows stay queued; the sweep queues them again
        logger.warning("broker unreachable: %d urgent notifications wait for the sweep", len(notification_ids),
                       exc_info=True)


def send_urgent_notification(notification_id: int) -> UrgentNotification | None:
    """Send one notification (worker side). Claimed first, so two deliveries of the task send it once; an
    error that may heal (mail server, webhook) is raised for the task to retry, after putting it back."""
    claimed = UrgentNotification.objects.filter(
        pk=notification_id, status__in=[NotificationStatus.QUEUED, NotificationStatus.FAILED],
    ).update(status=NotificationStatus.SENDING)
    notification = UrgentNotification.objects.select_related("feedback__course", "feedback__module").filter(
        pk=notification_id).first()
    if not claimed or notification is None:  # sent (or being sent) by another delivery, or gone
        return notification
    UrgentNotification.objects.filter(pk=notification_id).update(attempts=notification.attempts + 1)
    feedback = notification.feedback
    if feedback is None:
        return _finish(notification, NotificationStatus.FAILED, error="the comment was deleted before it was sent")
    email, webhook = support_contacts()
    if not email and not webhook:
        logger.error("urgent comment %s: no student-support contact is configured; nobody was told", feedback.pk)
        return _finish(notification, NotificationStatus.NO_CONTACT,
                       error="no SCREENING_SUPPORT_EMAIL, policy e-mail or SCREENING_SUPPORT_WEBHOOK_URL")
    message = urgent_message(feedback)
    sent_to = list(notification.sent_to)  # channels an earlier attempt reached are not sent twice
    channels = []
    if email:
        channels.append((f"e-mail {email}", lambda: send_mail(message["subject"], message["body"], None, [email])))
    if webhook:
        channels.append((f"webhook {urlsplit(webhook).netloc}", lambda: _post_webhook(webhook, message["payload"])))
    try:
        for name, send in channels:
            if name not in sent_to:
                send()
                sent_to.append(name)
    except DELIVERY_ERRORS as exc:
        UrgentNotification.objects.filter(pk=notification_id).update(
            status=NotificationStatus.FAILED, error=f"{type(exc).__name__}: {exc}", sent_to=sent_to)
        raise
    return _finish(notification, NotificationStatus.SENT, sent_to=sent_to)


def _finish(notification: UrgentNotification, status: str, *, error: str = "",
            sent_to: list[str] | None = None) -> UrgentNotification:
    UrgentNotification.objects.filter(pk=notification.pk).update(
        status=status, error=error, sent_to=sent_to or [], sent_at=timezone.now() if status == NotificationStatus.SENT
        else None)
    notification.refresh_from_db()
    return notification


def _post_webhook(url: str, payload: dict) -> None:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",  # noqa: S310 - our setting
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=settings.SCREENING_WEBHOOK_TIMEOUT_S) as response:  # noqa: S310
        if not 200 <= response.status < 300:
            raise urllib.error.URLError(f"the webhook answered {response.status}")


def urgent_message(feedback: Feedback) -> dict:
    """Subject, body and webhook payload: the comment, its course and module, how it reached us, and who wrote
    it only for an identified survey (an anonymous survey's respondent is not known, and is never guessed)."""
    course = feedback.course
    answer = getattr(feedback, "answer", None) if feedback.source == FeedbackSource.SURVEY else None
    survey = answer.response.survey if answer is not None else None
    respondent = None
    if survey is not None and not survey.is_anonymous:
        respondent = answer.response.respondent_label or (
            answer.response.user.get_username() if answer.response.user_id else None)
    if survey is None:
        source = f"{feedback.get_source_display()} (no respondent is known for it)"
    elif survey.is_anonymous:
        source = f'anonymous survey "{survey.title}": nobody, this platform included, knows who wrote it'
    else:
        source = f'identified survey "{survey.title}"'
    review = settings.EMAIL_URL_BASE.rstrip("/") + reverse("admin:screening_queue")
    reasons = ", ".join(feedback.screening_reasons) or "distress"
    lines = [
        "A student's comment may mean that they are at risk. It is held: course staff do not see it.",
        "",
        f"Course: {course.code} ({course.title})",
        f"Module: {feedback.module.title if feedback.module_id else '(none)'}",
        f"Received: {timezone.localtime(feedback.created_at):%d %b %Y}",
        f"Source: {source}",
        *([f"Respondent: {respondent}"] if respondent else []),
        f"Why: {reasons} ({feedback.screened_with})",
        "",
        "Comment (personal details redacted):",
        feedback.redacted_text,
        "",
        f"Screeners decide whether course staff may read it: {review}",
    ]
    payload = {
        "course": course.code, "course_title": course.title, "module": feedback.module.title if feedback.module_id
        else None, "received": timezone.localtime(feedback.created_at).date().isoformat(), "source": feedback.source,
        "anonymous": survey.is_anonymous if survey is not None else None, "respondent": respondent,
        "reasons": list(feedback.screening_reasons), "screen": feedback.screened_with,
        "comment": feedback.redacted_text,
        "review_url": review,
    }
    return {"subject": f"[Urgent] A student comment in {course.code} may need student support",
            "body": "\n".join(lines), "payload": payload}


def sweep_urgent_notifications() -> dict[str, int]:
    """Beat: urgent comments nobody queued (the process died before its on-commit hook), and queued or failed
    notifications whose task was lost, are queued again (failed ones up to MAX_ATTEMPTS)."""
    missing = list(Feedback.objects.filter(screening=ScreeningStatus.URGENT, urgent_notification__isnull=True)
                   .values_list("pk", flat=True)[:1000])
    created = queue_urgent_notifications(missing) if missing else []
    stale = timezone.now() - REQUEUE_AFTER
    lost = list(UrgentNotification.objects.filter(
        status__in=[NotificationStatus.QUEUED, NotificationStatus.FAILED], created_at__lt=stale,
        attempts__lt=MAX_ATTEMPTS).exclude(pk__in=created).values_list("pk", flat=True)[:1000])
    _enqueue(lost)
    return {"queued": len(created), "requeued": len(lost)}
