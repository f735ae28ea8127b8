"""Embeddings of feedback, and themes per course: runs, themes (stable ids), members and the history of changes.

Imported by classifiers/models.py, so these are models of the `classifiers` app. Raw theme sizes and
members include small groups: every way out to people goes through `classifiers.themes.selectors`, which
applies the minimum group size (admin lists them through it too).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from courses.models import Course, Feedback
from eduplatform.jobs import Job


class FeedbackEmbedding(models.Model):
    """The base encoder's vector of one item's redacted text (float32 bytes; no pgvector needed).

    `model_key` (model, weights digest, pooling, max length, backend) and `text_md5` (of the redacted text,
    as Postgres' md5() computes it) say what it was made from: a vector whose key or text changed is
    outdated and recomputed. No timestamp: it would date anonymous answers (courses.surveys.anonymity).
    """

    feedback = models.OneToOneField(Feedback, primary_key=True, on_delete=models.CASCADE, related_name="embedding")
    model_key = models.CharField(max_length=128)
    text_md5 = models.CharField(max_length=32)
    vector = models.BinaryField()

    def __str__(self) -> str:
        return f"Embedding of feedback {self.feedback_id} ({self.model_key})"


class ThemeRun(Job):
    """One recomputation of a course's themes (queued → running → succeeded | failed, see eduplatform.jobs).

    `stats`: comments clustered, themes, other, embedding model, timings; `changes`: how many themes were
    kept, new, merged and vanished (each one is a ThemeChange row).
    """

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="theme_runs")
    stats = models.JSONField(default=dict, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    # Where the next run starts (classifiers.ml.themes.cluster): the k-means centres (float32 bytes) and the
    # theme id of each (null for none), and a digest of the input, so unchanged data changes nothing.
    micro_centroids = models.BinaryField(null=True, blank=True, editable=False)
    micro_themes = models.JSONField(default=list, blank=True, editable=False)
    input_digest = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One recomputation per course at a time: two would match against the same old themes.
            models.UniqueConstraint(fields=["course"], condition=Q(status__in=["queued", "running"]),
                                    name="one_active_theme_run_per_course"),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "succeeded", "failed", "cancelled"]),
                name="theme_run_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Theme run {self.pk} · {self.course.code} · {self.status}"


class ThemeStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    MERGED = "merged", "Merged into another theme"
    VANISHED = "vanished", "Vanished"


class Theme(models.Model):
    """What a group of comments of one course talk about. Its id survives recomputation while its centre
    stays close (classifiers.ml.themes.match_themes); so do `name_by_staff` and `hidden`."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="themes")
    name = models.CharField(max_length=120, help_text="Made from the keywords at each recomputation.")
    name_by_staff = models.CharField(max_length=120, blank=True, help_text="Replaces the keyword name when set.")
    hidden = models.BooleanField(default=False, help_text="Hidden themes count under “other” in reports.")
    keywords = models.JSONField(default=list, help_text="Class-based TF-IDF keywords of the redacted texts.")
    centroid = models.BinaryField(help_text="Unit float32 vector: the centre matched at the next recomputation.")
    size = models.PositiveIntegerField(default=0, help_text="Members when last seen (raw, unsuppressed).")
    status = models.CharField(max_length=16, choices=ThemeStatus.choices, default=ThemeStatus.ACTIVE)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Staff edits a recomputation keeps (classifiers.ml.theme_edits): a theme staff merged into another stays
    # merged (its comments stay with that theme); a theme staff split off keeps its comments and its id.
    merged_by_staff = models.BooleanField(default=False, editable=False)
    split_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                   editable=False, help_text="Split off this theme by staff.")
    # Runs go with their course; were one deleted on its own, its themes stay (with "first seen" unknown).
    first_seen_run = models.ForeignKey(ThemeRun, null=True, on_delete=models.SET_NULL, related_name="+")
    last_seen_run = models.ForeignKey(ThemeRun, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["course", "-size", "id"]
        indexes = [models.Index(fields=["course", "status"], name="theme_course_status")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ThemeStatus.values), name="theme_status_valid"),
            models.CheckConstraint(condition=~Q(name=""), name="theme_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name_by_staff or self.name


class ThemeMember(models.Model):
    """An item's theme at the last recomputation (one at most); items with none are "other"."""

    feedback = models.OneToOneField(Feedback, primary_key=True, on_delete=models.CASCADE, related_name="theme_member")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="members")
    similarity = models.FloatField(help_text="Cosine similarity to the theme's centre: quotes are the closest.")

    class Meta:
        indexes = [models.Index(fields=["theme", "-similarity"], name="theme_member_closest")]

    def __str__(self) -> str:
        return f"Feedback {self.feedback_id} in theme {self.theme_id}"


class ThemeSuggestion(models.Model):
    """A theme member's label suggested under a schema made from themes (classifiers.themes.labels).

    Shown in the annotate queue like a model's prediction and, like one, never training data: training reads
    annotations only, and a suggestion becomes one when a person saves it. Each recomputation and each staff
    hide, show, merge or split refreshes them from the themes' members
    (classifiers.themes.labels.refresh_suggestions); an item annotated under the schema keeps its row as it was.
    """

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="theme_suggestions")
    schema = models.ForeignKey("classifiers.LabelSchema", on_delete=models.CASCADE, related_name="theme_suggestions")
    label = models.ForeignKey("classifiers.Label", on_delete=models.CASCADE, related_name="+")
    theme = models.ForeignKey(Theme, null=True, on_delete=models.SET_NULL, related_name="suggestions")
    similarity = models.FloatField(help_text="Cosine similarity to the theme's centre when suggested.")

    class Meta:
        constraints = [
            # An item is in one theme at most, so it carries one suggestion per schema.
            models.UniqueConstraint(fields=["feedback", "schema"], name="one_theme_suggestion_per_schema"),
        ]

    def __str__(self) -> str:
        return f"Feedback {self.feedback_id}: {self.label_id} suggested by theme {self.theme_id}"


class ThemeLabel(models.Model):
    """A label of a schema made from themes, and its theme: the theme whose members the label is suggested to
    (classifiers.themes.labels). The theme it was made from, or the one that theme was merged into; a label
    whose theme was merged into a theme with a label in the schema already loses its row."""

    label = models.OneToOneField("classifiers.Label", primary_key=True, on_delete=models.CASCADE,
                                 related_name="from_theme")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="labels")

    def __str__(self) -> str:
        return f"Label {self.label_id} made from theme {self.theme_id}"


class ChangeKind(models.TextChoices):
    NEW = "new", "New"
    KEPT = "kept", "Kept"
    MERGED = "merged", "Merged into another"
    VANISHED = "vanished", "Vanished"


class ThemeChange(models.Model):
    """What a run did to one theme: history for "new this term" and for staff to audit recomputations."""

    run = models.ForeignKey(ThemeRun, on_delete=models.CASCADE, related_name="theme_changes")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=16, choices=ChangeKind.choices)
    into = models.ForeignKey(Theme, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             help_text="Merged: the theme it went into.")
    similarity = models.FloatField(null=True, blank=True, help_text="Cosine of the old and new centres.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "theme"], name="one_change_per_theme_and_run"),
            models.CheckConstraint(condition=Q(kind__in=ChangeKind.values), name="theme_change_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: theme {self.theme_id} in run {self.run_id}"


class EditKind(models.TextChoices):
    RENAME = "rename", "Renamed"
    MERGE = "merge", "Merged"
    SPLIT = "split", "Split off"
    HIDE = "hide", "Hidden"
    UNHIDE = "unhide", "Shown again"


class AppendOnly(Exception):
    """An audit row was about to be changed or deleted."""


class ThemeEdit(models.Model):
    """What staff did to a theme, who and when: the audit of staff control (append-only; only a course's
    deletion takes its rows with it). `theme` is the theme acted on: the kept one of a merge, the new one of
    a split. `detail` says what: old and new name, the themes merged, the theme split from and how many
    comments (never their text)."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="theme_edits")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="edits")
    kind = models.CharField(max_length=16, choices=EditKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150, help_text="Who, kept should the user be deleted.")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(kind__in=EditKind.values), name="theme_edit_kind_valid")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: theme {self.theme_id} by {self.actor_name}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise AppendOnly("the audit of theme edits is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnly("the audit of theme edits is append-only")


class ThemeCourse(Course):
    """Courses seen from their themes: the admin list where staff recompute them."""

    class Meta:
        proxy = True
        verbose_name = "course's themes"
        verbose_name_plural = "themes by course"
