"""Closing the feedback loop: an instructor's answer to what students said, per module (or the whole course).

A response is a draft until published; students see published ones only (LTI landing page, survey intro),
staff see them beside the module's feedback in the report. Every change is kept as a revision.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from courses.models import Course, Module, check_module_of_course

YOU_SAID_MAX_CHARS = 1000
WE_DID_MAX_CHARS = 4000


class Decision(models.TextChoices):
    CHANGE = "change", "We are changing this"
    NO_CHANGE = "no_change", "We are not changing this, and why"


class LoopStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class LoopResponse(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="loop_responses")
    module = models.ForeignKey(Module, null=True, blank=True, on_delete=models.CASCADE, related_name="loop_responses",
                               help_text="The module whose feedback this answers; empty for the whole course.")
    you_said = models.TextField(help_text="What students said, in your words (no names, no quotes that identify).")
    we_did = models.TextField(help_text="What you will change, or why you will not.")
    decision = models.CharField(max_length=16, choices=Decision.choices, default=Decision.CHANGE)
    status = models.CharField(max_length=16, choices=LoopStatus.choices, default=LoopStatus.DRAFT, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                                   editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "“you said, we did” response"
        ordering = ["course", "module__position", "-published_at", "-id"]
        indexes = [models.Index(fields=["course", "status"], name="loop_course_status")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=LoopStatus.values), name="loop_status_valid"),
            models.CheckConstraint(condition=Q(decision__in=Decision.values), name="loop_decision_valid"),
            models.CheckConstraint(condition=Q(you_said__regex=r"\S") & Q(we_did__regex=r"\S"),
                                   name="loop_texts_not_blank"),
            models.CheckConstraint(condition=Q(status=LoopStatus.DRAFT) | Q(published_at__isnull=False),
                                   name="loop_published_has_time"),
        ]

    def __str__(self) -> str:
        return self.you_said[:80]

    def clean(self) -> None:
        check_module_of_course(self)


class RevisionAction(models.TextChoices):
    CREATED = "created", "Written"
    EDITED = "edited", "Edited"
    PUBLISHED = "published", "Published"
    UNPUBLISHED = "unpublished", "Unpublished"


class LoopRevision(models.Model):
    """The history of a response: who did what when, and the text at that moment."""

    response = models.ForeignKey(LoopResponse, on_delete=models.CASCADE, related_name="revisions")
    action = models.CharField(max_length=16, choices=RevisionAction.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    module = models.ForeignKey(Module, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    you_said = models.TextField()
    we_did = models.TextField()
    decision = models.CharField(max_length=16, choices=Decision.choices)
    status = models.CharField(max_length=16, choices=LoopStatus.choices)

    class Meta:
        ordering = ["response", "-at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(action__in=RevisionAction.values),
                                              name="loop_revision_action_valid")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor} at {self.at:%Y-%m-%d %H:%M}"
