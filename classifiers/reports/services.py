"""Report services: the audited baseline-gate override, and week-over-week negative-share alerts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from classifiers.models import Label, LabelSchema, ModelVersion
from classifiers.reports.models import Alert, BaselineOverride, ReportCell, ReportSettings
from classifiers.reports.summary import ensure_summary, version_for_reports
from classifiers.reports.suppression import group_minimums
from classifiers.reports.weeks import week_of
from classifiers.selectors import schemas_for_course
from courses.models import Course, CourseMembership, Role
from courses.permissions import Action, authorize
from eduplatform.errors import DomainError


class OverrideRefused(DomainError):
    pass


def override_baseline_gate(course: Course, schema: LabelSchema, version: ModelVersion, *,
                           actor: AbstractBaseUser, reason: str) -> BaselineOverride:
    """Let reports use `version` although it does not beat its majority baseline (recorded with actor and reason)."""
    authorize(actor, Action.REPORT_OVERRIDE, course)
    reason = reason.strip()
    if not reason:
        raise OverrideRefused("Say why the reports should use a model that does not beat its baseline.")
    if version.beats_baseline:
        raise OverrideRefused(f"{version} beats its baseline; reports already use it, no override is needed.")
    if version.schema_id != schema.pk or version.course_id not in (None, course.pk):
        raise OverrideRefused(f"{version} is not a model of schema {schema.name} for course {course.code}.")
    try:
        with transaction.atomic():
            return BaselineOverride.objects.create(
                course=course, schema=schema, model_version=version, actor=actor, reason=reason
            )
    except IntegrityError as exc:
        raise OverrideRefused(f"Reports of {course.code} already use {version} by an earlier override.") from exc


def revoke_baseline_override(override: BaselineOverride, *, actor: AbstractBaseUser | None) -> BaselineOverride:
    """Reports of the course stop using the overridden model (they fall back to human labels)."""
    authorize(actor, Action.REPORT_OVERRIDE, override.course)
    # Conditional UPDATE: a second revoke (another tab, a double click) neither succeeds nor rewrites who did it.
    if not BaselineOverride.objects.filter(pk=override.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=actor
    ):
        raise OverrideRefused(f"The override of {override.model_version} in {override.course.code} is already revoked.")
    override.refresh_from_db()
    return override


@dataclass(frozen=True)
class AlertRule:
    rise: float
    min_count: int


def alert_rule(course: Course, module_id: int | None = None) -> AlertRule:
    """Course settings, else site settings; never below the strictest minimum group size of the module
    (course, MIN_GROUP_SIZE_FLOOR, a stricter survey of the module): an alert and its e-mail show counts."""
    custom = ReportSettings.objects.filter(course=course).first()
    rise = custom.alert_rise if custom and custom.alert_rise is not None else settings.REPORT_ALERT_RISE
    count = custom.alert_min_count if custom and custom.alert_min_count is not None else settings.REPORT_ALERT_MIN_COUNT
    return AlertRule(rise=rise, min_count=max(count, group_minimums(course).of(module_id)))


def detect_alerts(course: Course, schema: LabelSchema, *, week: date | None = None) -> list[Alert]:
    """Raise (once) an alert for each module whose negative share in `week` rose by the rule's threshold.

    `week` defaults to the current week (to date): a sharp rise matters before the week is over. Returns
    the alerts created now; an alert already raised for the module and week is not raised again.
    """
    negative = set(
        Label.objects.filter(schema=schema, name__in=settings.REPORT_NEGATIVE_LABELS).values_list("id", flat=True)
    )
    if not negative:
        return []
    week = week or week_of(timezone.localdate())
    snapshot = ensure_summary(course, schema, version_for_reports(course, schema).used)
    rule = alert_rule(course)
    minimums = group_minimums(course)
    weeks = {week: "now", week - timedelta(weeks=1): "before"}
    counts: dict = defaultdict(lambda: {"now": [0, 0], "before": [0, 0]})  # module → period → [negative, labelled]
    cells = ReportCell.objects.filter(
        snapshot=snapshot, week__in=list(weeks), module__isnull=False, label__isnull=False
    )
    for module_id, cell_week, label_id, n in cells.values_list("module_id", "week", "label_id", "count"):
        period = counts[module_id][weeks[cell_week]]
        period[1] += n
        if label_id in negative:
            period[0] += n
    created = []
    for module_id, periods in counts.items():
        (neg, total), (neg_before, total_before) = periods["now"], periods["before"]
        if min(total, total_before) < max(rule.min_count, minimums.of(module_id)):
            continue
        share, before = neg / total, neg_before / total_before
        if share - before < rule.rise:
            continue
        alert, was_created = Alert.objects.get_or_create(
            module_id=module_id, schema=schema, week=week,
            defaults={"course": course, "share": share, "previous_share": before, "count": total,
                      "previous_count": total_before},
        )
        if was_created:
            created.append(alert)
    return created


def send_alert_emails() -> int:
    """E-mail each not yet e-mailed alert to the course's instructors; a claimed alert is sent at most once."""
    sent = 0
    for alert_id in Alert.objects.filter(emailed_at__isnull=True).values_list("id", flat=True):
        # Claim first (conditional UPDATE), so two workers never send the same alert.
        if not Alert.objects.filter(pk=alert_id, emailed_at__isnull=True).update(emailed_at=timezone.now()):
            continue
        alert = Alert.objects.select_related("course", "module", "schema").get(pk=alert_id)
        recipients = _instructor_emails(alert.course)
        # An alert raised before a stricter minimum applied (a survey's, a raised floor) is never sent.
        if recipients and min(alert.count, alert.previous_count) >= group_minimums(alert.course).of(alert.module_id):
            send_mail(_subject(alert), _body(alert), None, recipients)
            sent += 1
    return sent


def scan_all_courses() -> dict[str, int]:
    """Beat entry point: detect alerts in every course with feedback, then send the e-mails."""
    raised = 0
    for course in Course.objects.filter(feedback__isnull=False).distinct():
        for schema in schemas_for_course(course):
            raised += len(detect_alerts(course, schema))
    return {"raised": raised, "emailed": send_alert_emails()}


def _instructor_emails(course: Course) -> list[str]:
    members = CourseMembership.objects.filter(course=course, role=Role.INSTRUCTOR, user__is_active=True)
    return sorted({email for email in members.values_list("user__email", flat=True) if email})


def _subject(alert: Alert) -> str:
    return f"[{alert.course.code}] Negative feedback rising in {alert.module.title}"


def _body(alert: Alert) -> str:
    path = reverse("reports:course_report", kwargs={"course_code": alert.course.code})
    url = settings.EMAIL_URL_BASE.rstrip("/") + path
    return (
        f"In {alert.course.code} ({alert.course.title}), module \"{alert.module.title}\": the share of "
        f"{alert.schema.name} comments labelled negative rose from {alert.previous_share:.0%} "
        f"(week of {alert.week - timedelta(weeks=1):%d %b %Y}, {alert.previous_count} responses) to "
        f"{alert.share:.0%} (week of {alert.week:%d %b %Y}, {alert.count} responses so far).\n\n"
        f"Open the report: {url}?schema={alert.schema.name}\n\n"
        "You receive this once per module and week because you are an instructor of the course."
    )
