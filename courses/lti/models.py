"""Our side of an LTI registration: who a platform user is here, and each platform's policy.

django-lti (`lti_tool`) owns registrations, deployments and the tool's keys; these models add what
it lacks: a Django user tied to (issuer, sub) and a per-platform policy (deployments, framing).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from lti_tool.models import LtiRegistration


class LtiIdentity(models.Model):
    """A platform user (OIDC issuer + subject) and the Django user they sign in as.

    `sub` is only unique within its issuer (OIDC core 2), so both identify the person; never the
    email, which would let one platform's user take over another's account.
    """

    issuer = models.CharField(max_length=255)
    sub = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lti_identities")
    created_at = models.DateTimeField(auto_now_add=True)
    last_launch_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "LTI identities"
        constraints = [models.UniqueConstraint(fields=["issuer", "sub"], name="lti_identity_unique_issuer_sub")]

    def __str__(self) -> str:
        return f"{self.user} ← {self.issuer} / {self.sub}"


class PlatformPolicy(models.Model):
    """How we treat one registration's deployments and which origins may frame our LTI pages."""

    registration = models.OneToOneField(LtiRegistration, on_delete=models.CASCADE, related_name="policy")
    accept_new_deployments = models.BooleanField(
        default=False,
        help_text="Activate unknown deployment ids of this client automatically (logged). Hosted Canvas "
        "gives a copied course a new deployment id; when off, such launches get 403 until an admin "
        "activates the deployment.",
    )
    frame_ancestors = models.TextField(
        blank=True,
        help_text="Space-separated origins allowed to frame our pages after a launch "
        "(e.g. https://school.instructure.com). Empty: the origin of the platform's auth login URL.",
    )

    class Meta:
        verbose_name_plural = "platform policies"

    def __str__(self) -> str:
        return f"Policy of {self.registration}"

    def allowed_frame_origins(self) -> list[str]:
        if self.frame_ancestors.strip():
            return self.frame_ancestors.split()
        return [origin_of(self.registration.auth_url)]


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class RegistrationToken(models.Model):
    """A one-time, expiring right to register a platform by LTI Dynamic Registration, issued by an
    administrator (admin → LTI registration links). Only the token's SHA-256 is kept: the link is shown
    once, to the administrator who issued it."""

    digest = models.CharField(max_length=64, unique=True)
    note = models.CharField(max_length=255, blank=True, help_text="Which platform the link is for (your note).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    registration = models.ForeignKey(
        LtiRegistration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The registration this link made.",
    )

    class Meta:
        verbose_name = "LTI registration link"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Registration link {self.pk}" + (f" ({self.note})" if self.note else "")


class RosterSyncStatus(models.TextChoices):
    NEVER = "never", "Not synced yet"
    OK = "ok", "Synced"
    FAILED = "failed", "Last sync failed"


class RosterSync(models.Model):
    """The LMS roster of one course (LTI Names and Role Provisioning Services 2.0): where to read it, how
    many learners and staff it last listed, and how the last sync went. Counts and roles only: no
    learner's name, e-mail or platform id is stored anywhere (RosterMember keeps a keyed hash)."""

    course = models.OneToOneField("courses.Course", on_delete=models.CASCADE, related_name="roster_sync")
    registration = models.ForeignKey(LtiRegistration, on_delete=models.CASCADE, related_name="+")
    memberships_url = models.URLField(max_length=2000, help_text="The context_memberships_url of the launches.")
    # NRPS 2.0 "Membership differences": the URL the platform gave (Link rel="differences") for what
    # changed since that answer; a full sync replaces it.
    differences_url = models.URLField(max_length=2000, blank=True)
    learner_count = models.PositiveIntegerField(null=True, blank=True)
    staff_count = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=RosterSyncStatus.choices, default=RosterSyncStatus.NEVER)
    synced_at = models.DateTimeField(null=True, blank=True)
    full_synced_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True, help_text="When a sync was last queued.")
    error = models.TextField(blank=True, help_text="What went wrong in the last failed sync.")
    error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(status__in=RosterSyncStatus.values),
                                              name="roster_sync_status_valid")]

    def __str__(self) -> str:
        return f"Roster of {self.course}"


class RosterMember(models.Model):
    """One person on a synced roster, as little as the counts and membership differences need: a keyed
    hash of (course, issuer, platform id) — unlinkable across courses and to survey respondent keys — and
    whether they are a learner or which staff role they have."""

    roster = models.ForeignKey(RosterSync, on_delete=models.CASCADE, related_name="members")
    member_key = models.CharField(max_length=64)
    is_learner = models.BooleanField(default=False)
    staff_role = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["roster", "member_key"], name="roster_member_unique")]

    def __str__(self) -> str:
        return f"Member of {self.roster_id}"  # never who


class ParticipationLineItem(models.Model):
    """The gradebook column of a survey linked with "give participation credit", in one LMS context.

    `lineitem_url` comes from the launch (a line item the platform made from the deep-linking response)
    or is found/created by the tool through `lineitems_url` before the first score is posted."""

    survey = models.ForeignKey("courses.Survey", on_delete=models.CASCADE, related_name="+")
    registration = models.ForeignKey(LtiRegistration, on_delete=models.CASCADE, related_name="+")
    context_key = models.CharField(max_length=255)
    resource_link_id = models.CharField(max_length=255)
    lineitem_url = models.URLField(max_length=2000, blank=True)
    lineitems_url = models.URLField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["survey", "registration", "context_key", "resource_link_id"],
                                               name="participation_lineitem_unique")]

    def __str__(self) -> str:
        return f"Participation column of survey {self.survey_id}"


class ScoreStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be posted"
    POSTED = "posted", "Posted"
    FAILED = "failed", "Gave up"


class ScorePost(models.Model):
    """One student's participation score (1 of 1) for a line item: pending until the platform accepted it.

    What it never holds: a link to the survey response (no foreign key, no response id), and once posted
    the student's platform id (blanked; only `subject_key`, a keyed hash per line item, stays so that a
    student gets one score). For anonymous surveys its times are the day only, like the response's.
    """

    line_item = models.ForeignKey(ParticipationLineItem, on_delete=models.CASCADE, related_name="scores")
    subject_key = models.CharField(max_length=64)
    user_id_on_platform = models.CharField(max_length=255, blank=True, help_text="Blank once posted.")
    timestamp = models.DateTimeField(help_text="The score's timestamp: the same on every retry (idempotent).")
    status = models.CharField(max_length=8, choices=ScoreStatus.choices, default=ScoreStatus.PENDING)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["line_item", "subject_key"], name="one_score_per_student"),
            models.CheckConstraint(condition=models.Q(status__in=ScoreStatus.values), name="score_status_valid"),
            models.CheckConstraint(condition=~models.Q(status="posted") | models.Q(user_id_on_platform=""),
                                   name="score_posted_forgets_the_student"),
        ]
        indexes = [models.Index(fields=["status", "line_item"], name="score_status_lineitem")]

    def __str__(self) -> str:
        return f"Score {self.pk} ({self.status})"  # never whose
