"""Screening's own rows: the institution's policy, the screeners' decisions (an append-only audit trail)
and the notifications of urgent comments. The verdict itself lives on the comment (`Feedback.screening`)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from classifiers.ml.screening import DEFAULT_HOLD_THRESHOLD
from classifiers.models import LabelSchema
from courses.models import Course, Feedback

_UNIT = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class ScreeningPolicy(models.Model):
    """The institution's screening settings: one row, made on first use (`services.screening_policy`)."""

    hold_threshold = models.FloatField(
        default=DEFAULT_HOLD_THRESHOLD, validators=_UNIT,
        help_text="The offensive-language model's probability at or above which a comment is held (0-1). "
                  "Lower holds more.",
    )
    trained_threshold = models.FloatField(
        default=0.5, validators=_UNIT,
        help_text="Once the screening schema has an active model: a label's probability at or above which the "
                  "comment is held for that reason (0-1).",
    )
    use_trained_screen = models.BooleanField(
        default=True, help_text="Let the screening schema's active model decide on offensive language once there "
                                "is one (the patterns for remarks, threats and distress always apply).",
    )
    support_email = models.EmailField(
        blank=True, help_text="Student support, told at once of urgent comments. Empty: SCREENING_SUPPORT_EMAIL.",
    )
    # The institution-wide multi-label schema whose labels are the screeners' decisions (never shown to
    # course staff: classifiers.selectors leaves it out of every course's schemas).
    schema = models.OneToOneField(LabelSchema, on_delete=models.PROTECT, related_name="screening_policy")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "screening policy"
        verbose_name_plural = "screening policy"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="screening_policy_single_row"),
            models.CheckConstraint(condition=Q(hold_threshold__gte=0, hold_threshold__lte=1),
                                   name="screening_hold_threshold_0_to_1"),
            models.CheckConstraint(condition=Q(trained_threshold__gte=0, trained_threshold__lte=1),
                                   name="screening_trained_threshold_0_to_1"),
        ]

    def __str__(self) -> str:
        return "Screening policy"


class Decision(models.TextChoices):
    RELEASE = "release", "Released"
    RELEASE_REDACTED = "release_redacted", "Released with a span redacted"
    REMOVE = "remove", "Removed (kept for audit, not counted)"


class AuditTrailError(RuntimeError):
    """A screening decision is written once and never changed or deleted."""


class ScreeningDecision(models.Model):
    """One screener's decision on one held comment: who, when, why. Append-only: the model refuses changes,
    admin offers none, and a database trigger (migration 0001) refuses UPDATE and DELETE, but for the links
    to a comment or course that was deleted (set to NULL; the course code and the rest stay)."""

    feedback = models.ForeignKey(Feedback, null=True, on_delete=models.SET_NULL, related_name="screening_decisions")
    course = models.ForeignKey(Course, null=True, on_delete=models.SET_NULL, related_name="+")
    course_code = models.CharField(max_length=64)
    action = models.CharField(max_length=32, choices=Decision.choices)
    reasons = models.JSONField(default=list, blank=True, help_text="The screener's reasons (their training labels).")
    note = models.TextField(blank=True)
    span_start = models.PositiveIntegerField(null=True, blank=True)
    span_end = models.PositiveIntegerField(null=True, blank=True)
    verdict = models.CharField(max_length=16, help_text="What the screen had said: held or urgent.")
    screen = models.CharField(max_length=128, blank=True, help_text="The screen (and version) that held it.")
    screen_reasons = models.JSONField(default=list, blank=True)
    score = models.FloatField(null=True, blank=True)
    arrived_at = models.DateTimeField(help_text="When the comment arrived (the day only for anonymous surveys).")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["course", "decided_at"], name="screening_decision_course")]
        constraints = [
            models.CheckConstraint(condition=Q(action__in=Decision.values), name="screening_decision_action_valid"),
            models.CheckConstraint(
                condition=Q(action=Decision.RELEASE_REDACTED, span_start__isnull=False,
                            span_end__gt=models.F("span_start"))
                | (~Q(action=Decision.RELEASE_REDACTED) & Q(span_start__isnull=True, span_end__isnull=True)),
                name="screening_decision_span_only_when_redacted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} · {self.course_code} · {self.decided_at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise AuditTrailError("a screening decision cannot be changed; record a new one")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AuditTrailError("a screening decision cannot be deleted: it is the audit trail")


class NotificationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    NO_CONTACT = "no_contact", "Nobody to tell (no support contact configured)"


class UrgentNotification(models.Model):
    """Student support told of one urgent comment: one row per comment, so it is sent once."""

    feedback = models.OneToOneField(Feedback, null=True, on_delete=models.SET_NULL, related_name="urgent_notification")
    course = models.ForeignKey(Course, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_to = models.JSONField(default=list, blank=True, help_text="The channels it went to (e-mail, webhook).")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=NotificationStatus.values),
                                   name="urgent_notification_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Urgent notification {self.pk} ({self.get_status_display()})"
