"""Report tables: a per-course summary the report pages read, alerts, and the audited baseline override.

The summary (ReportSnapshot → ReportCell, ReportComment) holds raw counts and is never shown as is:
every way out of the numbers goes through `classifiers.reports.selectors.module_report`, which applies the
minimum group size. That is why none of these rows are registered raw in admin.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from courses.models import Course, Feedback, Module


class ReportSnapshot(models.Model):
    """When the summary of one course and schema was last built, and from which data."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    schema = models.ForeignKey("classifiers.LabelSchema", on_delete=models.CASCADE, related_name="+")
    # The version whose predictions were used; empty when only human labels counted.
    model_version = models.ForeignKey(
        "classifiers.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    fingerprint = models.JSONField(default=dict, help_text="Watermarks of the data the summary was built from.")
    built_at = models.DateTimeField(null=True, blank=True)
    build_ms = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "classifiers_reportsnapshot"  # the table predates the reports app; no data moves
        constraints = [models.UniqueConstraint(fields=["course", "schema"], name="report_snapshot_unique")]

    def __str__(self) -> str:
        return f"Report summary {self.course_id}/{self.schema_id}"


class ReportCell(models.Model):
    """Count of feedback in one module, week and effective label (label empty: not labelled yet)."""

    snapshot = models.ForeignKey(ReportSnapshot, on_delete=models.CASCADE, related_name="cells")
    module = models.ForeignKey(Module, null=True, on_delete=models.CASCADE, related_name="+")
    week = models.DateField(help_text="Monday of the ISO week, in the site's time zone.")
    label = models.ForeignKey("classifiers.Label", null=True, on_delete=models.CASCADE, related_name="+")
    count = models.PositiveIntegerField()
    human_count = models.PositiveIntegerField(help_text="How many of them carry a human label.")

    class Meta:
        db_table = "classifiers_reportcell"  # the table predates the reports app; no data moves
        indexes = [models.Index(fields=["snapshot", "week"], name="report_cell_snapshot_week")]

    def __str__(self) -> str:
        return f"{self.count} in module {self.module_id}, week {self.week}"


class ReportComment(models.Model):
    """The most confident comments per module, week and label (a few each), picked when the summary is built."""

    snapshot = models.ForeignKey(ReportSnapshot, on_delete=models.CASCADE, related_name="comments")
    module = models.ForeignKey(Module, null=True, on_delete=models.CASCADE, related_name="+")
    week = models.DateField()
    label = models.ForeignKey("classifiers.Label", on_delete=models.CASCADE, related_name="+")
    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="+")
    confidence = models.FloatField()
    human = models.BooleanField()
    # Rank within module and label over all weeks: the unfiltered page reads ranks 1-3 by index.
    overall_rank = models.PositiveIntegerField()

    class Meta:
        db_table = "classifiers_reportcomment"  # the table predates the reports app; no data moves
        indexes = [
            models.Index(fields=["snapshot", "week"], name="report_comment_snapshot_week"),
            models.Index(fields=["snapshot", "overall_rank"], name="report_comment_overall_rank"),
        ]

    def __str__(self) -> str:
        return f"Comment {self.feedback_id} for module {self.module_id}"


class ThemeCell(models.Model):
    """One theme in one module: its comments by week and effective label, and its closest quotable comments,
    built with the summary from the same effective labels (classifiers.reports.summary).

    Counts are parallel arrays (`weeks[i]`, `labels[i]`: `counts[i]` comments; label empty: not labelled yet):
    a million comments make ~110,000 (theme, module, week, label) cells and the report reads all of them, so
    they are stored one row per theme and module (~1,000 rows). `quotes`: ids of the comments closest to the
    theme's centre that staff could read when it was built, closest first; no foreign key, since a deleted
    comment is simply not found, and the themes selector checks screening and module again when it reads them.
    Raw counts, small groups included: only `classifiers.themes.selectors.module_themes` shows them.
    """

    snapshot = models.ForeignKey(ReportSnapshot, on_delete=models.CASCADE, related_name="theme_cells")
    theme = models.ForeignKey("classifiers.Theme", on_delete=models.CASCADE, related_name="+")
    module = models.ForeignKey(Module, null=True, on_delete=models.CASCADE, related_name="+")
    weeks = ArrayField(models.DateField())
    labels = ArrayField(models.BigIntegerField(null=True))
    counts = ArrayField(models.PositiveIntegerField())
    quotes = ArrayField(models.BigIntegerField(), default=list)

    def __str__(self) -> str:
        return f"Theme {self.theme_id} in module {self.module_id}"


class BaselineOverride(models.Model):
    """Staff chose to use a version that does not beat its majority baseline for one course's reports.

    Tied to one version: a newer version needs its own decision. Revoking keeps the row (audit).
    """

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    schema = models.ForeignKey("classifiers.LabelSchema", on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey("classifiers.ModelVersion", on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        db_table = "classifiers_baselineoverride"  # the table predates the reports app; no data moves
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "schema", "model_version"], condition=Q(revoked_at__isnull=True),
                name="one_live_baseline_override",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="baseline_override_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Override of baseline gate for version {self.model_version_id} in course {self.course_id}"


class Alert(models.Model):
    """A module's negative share rose sharply from one week to the next; raised once per module per week."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="+")
    schema = models.ForeignKey("classifiers.LabelSchema", on_delete=models.CASCADE, related_name="+")
    week = models.DateField(help_text="Monday of the week whose share rose.")
    share = models.FloatField()
    previous_share = models.FloatField()
    count = models.PositiveIntegerField(help_text="Labelled responses in the week.")
    previous_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "classifiers_alert"  # the table predates the reports app; no data moves
        ordering = ["-week", "module"]
        constraints = [
            models.UniqueConstraint(fields=["module", "schema", "week"], name="one_alert_per_module_week"),
        ]

    def __str__(self) -> str:
        return f"Alert: {self.module} week of {self.week}"


class ReportSettings(models.Model):
    """Per-course report settings staff may set in admin; empty fields use the site defaults."""

    course = models.OneToOneField(Course, on_delete=models.CASCADE, related_name="+")
    enrolled_students = models.PositiveIntegerField(
        null=True, blank=True, help_text="Known enrolment; response rates are shown only when set."
    )
    alert_rise = models.FloatField(
        null=True, blank=True, help_text="Rise in negative share (0.2 = 20 points) that raises an alert."
    )
    alert_min_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Labelled responses needed in both weeks before an alert can fire."
    )

    class Meta:
        db_table = "classifiers_reportsettings"  # the table predates the reports app; no data moves
        verbose_name_plural = "report settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(alert_rise__isnull=True) | Q(alert_rise__gt=0, alert_rise__lte=1),
                name="report_alert_rise_0_to_1",
            ),
        ]

    def __str__(self) -> str:
        return f"Report settings of course {self.course_id}"
