"""Label schemas, annotations (with history), and later training runs, model versions and predictions."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from courses.models import Course, Feedback
from eduplatform.jobs import Job


class SchemaKind(models.TextChoices):
    SINGLE = "single", "Single-label"
    MULTI = "multi", "Multi-label"
    ORDINAL = "ordinal", "Ordinal"


class TrainingPolicy(models.TextChoices):
    LATEST = "latest", "Latest annotation wins"
    MAJORITY = "majority", "Majority of annotators"
    REVIEWER = "reviewer", "Designated reviewer's label wins"


class RareLabels(models.TextChoices):
    """What training does with a used label that has fewer examples than the recipe's `min_per_label`."""

    LEAVE_OUT = "leave_out", "Leave them out of training (the model never predicts them) and say so"
    REFUSE = "refuse", "Refuse to train until every used label has enough examples"


class LabelSchema(models.Model):
    """A set of labels; per course, or institution-wide when `course` is empty."""

    course = models.ForeignKey(Course, null=True, blank=True, on_delete=models.CASCADE, related_name="schemas")
    name = models.SlugField(max_length=64)
    kind = models.CharField(max_length=16, choices=SchemaKind.choices, default=SchemaKind.SINGLE)
    description = models.TextField(blank=True, help_text="Guidelines shown to annotators.")
    training_policy = models.CharField(max_length=16, choices=TrainingPolicy.choices, default=TrainingPolicy.LATEST)
    rare_labels = models.CharField(
        "rare labels", max_length=16, choices=RareLabels.choices, default=RareLabels.LEAVE_OUT,
        help_text="Labels with too few annotated examples (8 by default) when a model is trained.",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["course__code", "name"]
        constraints = [
            models.UniqueConstraint(fields=["course", "name"], name="schema_name_unique_per_course"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(course__isnull=True), name="schema_name_unique_institution"
            ),
            models.CheckConstraint(condition=Q(kind__in=SchemaKind.values), name="schema_kind_valid"),
            models.CheckConstraint(
                condition=Q(training_policy__in=TrainingPolicy.values), name="schema_policy_valid"
            ),
            models.CheckConstraint(condition=Q(rare_labels__in=RareLabels.values), name="schema_rare_labels_valid"),
        ]

    def __str__(self) -> str:
        scope = self.course.code if self.course_id else "institution"
        return f"{self.name} ({scope})"

    @property
    def is_institution_wide(self) -> bool:
        return self.course_id is None

    def clean(self) -> None:
        if self.training_policy == TrainingPolicy.REVIEWER and self.reviewer_id is None:
            raise ValidationError({"reviewer": "The reviewer policy needs a reviewer: choose one, or another policy."})


class Label(models.Model):
    schema = models.ForeignKey(LabelSchema, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=64)
    position = models.PositiveSmallIntegerField(help_text="Order of the label; the scale order for ordinal schemas.")
    color = models.CharField(max_length=7, default="#6b7280")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["schema", "position"]
        constraints = [
            models.UniqueConstraint(fields=["schema", "name"], name="label_name_unique_per_schema"),
            # Deferred so labels can be reordered inside one transaction.
            models.UniqueConstraint(
                fields=["schema", "position"],
                name="label_position_unique_per_schema",
                deferrable=models.Deferrable.DEFERRED,
            ),
            models.CheckConstraint(condition=~Q(name=""), name="label_name_not_empty"),
            models.CheckConstraint(condition=Q(color__regex=r"^#[0-9a-fA-F]{6}$"), name="label_color_hex"),
        ]

    def __str__(self) -> str:
        return self.name


class AnnotationSource(models.TextChoices):
    HUMAN = "human", "Human"
    IMPORT = "import", "Import"


class Annotation(models.Model):
    """A person's (or an import's) labels for one feedback item under one schema.

    Each save of a new annotation keeps the old one with `is_current=False`: history is never lost,
    and the database allows only one current annotation per annotator (or per import) and item.
    """

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="annotations")
    schema = models.ForeignKey(LabelSchema, on_delete=models.CASCADE, related_name="annotations")
    labels = models.ManyToManyField(Label, through="AnnotationLabel", related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotations"
    )
    source = models.CharField(max_length=16, choices=AnnotationSource.choices, default=AnnotationSource.HUMAN)
    is_current = models.BooleanField(default=True)
    # Set when a person confirmed a model's suggestion: it is then their (human) annotation.
    suggested_by = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when a person confirmed a theme's suggestion (classifiers.themes.labels): their annotation too.
    suggested_by_theme = models.ForeignKey(
        "Theme", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["schema", "is_current"], name="annotation_schema_current"),
            # Reports: the newest change per schema is their freshness watermark.
            models.Index(fields=["schema", "updated_at"], name="annotation_schema_updated"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["feedback", "schema", "annotator", "source"],
                condition=Q(is_current=True),
                nulls_distinct=False,
                name="one_current_annotation_per_annotator",
            ),
            models.CheckConstraint(condition=Q(source__in=AnnotationSource.values), name="annotation_source_valid"),
            models.CheckConstraint(
                condition=Q(source=AnnotationSource.IMPORT) | Q(annotator__isnull=False),
                name="human_annotation_has_annotator",
            ),
        ]

    def __str__(self) -> str:
        return f"Annotation {self.pk} of feedback {self.feedback_id}"


class AnnotationLabel(models.Model):
    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE)
    # RESTRICT: a label in use cannot be deleted on its own (rename keeps annotations, it is the same
    # row), yet deleting the whole course or schema still cascades.
    label = models.ForeignKey(Label, on_delete=models.RESTRICT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotation", "label"], name="annotation_label_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.annotation_id}: {self.label_id}"


# --- Training, model versions, predictions ----------------------------------------------------------


class TrainingRun(Job):
    """One fine-tuning job for a schema over a scope: one course, or institution-wide (course empty).

    Status moves queued → running → succeeded | failed | cancelled (see eduplatform.jobs). `progress`
    holds step, total_steps, epoch, loss and eta_s, written by a TrainerCallback.
    """

    schema = models.ForeignKey(LabelSchema, on_delete=models.CASCADE, related_name="training_runs")
    course = models.ForeignKey(
        Course, null=True, blank=True, on_delete=models.CASCADE, related_name="training_runs",
        help_text="Empty: institution-wide, over every course sharing the schema.",
    )
    config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    # What it trained on: annotation count, class balance, a hash of the training set, library versions.
    data_summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Two train requests for the same scope never run at once: the database refuses the second.
            models.UniqueConstraint(
                fields=["schema", "course"],
                condition=Q(status__in=["queued", "running"]),
                nulls_distinct=False,
                name="one_active_training_run_per_scope",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "succeeded", "failed", "cancelled"]),
                name="training_run_status_valid",
            ),
        ]

    def __str__(self) -> str:
        scope = self.course.code if self.course_id else "institution"
        return f"Training run {self.pk} · {self.schema.name} · {scope} · {self.status}"

    @property
    def warnings(self) -> list[str]:
        """What the run could not learn, e.g. "label 7: 2 examples, not learned; this version never predicts it"."""
        return list((self.data_summary or {}).get("warnings") or [])


class ModelVersion(models.Model):
    """A trained model on disk under MODEL_STORE, with its evaluation report."""

    schema = models.ForeignKey(LabelSchema, on_delete=models.CASCADE, related_name="model_versions")
    course = models.ForeignKey(
        Course, null=True, blank=True, on_delete=models.CASCADE, related_name="model_versions"
    )
    training_run = models.OneToOneField(
        TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="model_version"
    )
    number = models.PositiveIntegerField(help_text="1, 2, 3 … per schema and scope.")
    path = models.CharField(max_length=512, help_text="Directory relative to MODEL_STORE.")
    base_model = models.CharField(max_length=512)
    base_parts = models.CharField(
        max_length=512, blank=True, default="",
        help_text="The shared base-model parts a small version needs, relative to MODEL_STORE (blank: full files, "
                  "or a version registered before this was recorded).",
    )
    label_names = models.JSONField(default=list, help_text="Output index → label name.")
    max_length = models.PositiveIntegerField(default=128)
    metrics = models.JSONField(default=dict, blank=True, help_text="Evaluation report on the validation split.")
    beats_baseline = models.BooleanField(default=False)
    onnx_path = models.CharField(max_length=512, blank=True)
    use_int8 = models.BooleanField(default=False, help_text="Serve the int8-quantised ONNX model.")
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["schema", "course"], condition=Q(is_active=True), nulls_distinct=False,
                name="one_active_version_per_scope",
            ),
            models.UniqueConstraint(
                fields=["schema", "course", "number"], nulls_distinct=False, name="version_number_unique_per_scope"
            ),
        ]

    def __str__(self) -> str:
        scope = self.course.code if self.course_id else "institution"
        return f"{self.schema.name} v{self.number} ({scope})"

    @property
    def not_learned(self) -> dict[str, int]:
        """Labels left out of its training for having too few examples (name → examples): never predicted."""
        return dict((self.metrics or {}).get("not_learned") or {})


class ClassificationRun(Job):
    """Batch classification of a scope's backlog by one model version (resumable, chunked)."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="classification_runs")
    course = models.ForeignKey(Course, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    classified = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # The backlog is cut into id-range chunks, each its own task, so many workers share one course.
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Classification run {self.pk} · {self.model_version} · {self.status}"


class Prediction(models.Model):
    """A model version's output for one feedback item; a version classifies an item at most once."""

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="predictions")
    schema = models.ForeignKey(LabelSchema, on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    # Top label (single-label and ordinal: the prediction; multi-label: the highest-scoring label).
    label = models.ForeignKey(Label, null=True, on_delete=models.SET_NULL, related_name="predictions")
    label_names = models.JSONField(default=list, help_text="Every predicted label (one for single-label).")
    scores = models.JSONField(default=dict, help_text="label name → probability")
    confidence = models.FloatField()
    truncated = models.BooleanField(default=False, help_text="The text was longer than the model's max length.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["model_version", "label"], name="prediction_version_label"),
            # Reports: the newest prediction per version is their freshness watermark.
            models.Index(fields=["model_version", "id"], name="prediction_version_id"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["feedback", "model_version"], name="one_prediction_per_version"),
            models.CheckConstraint(condition=Q(confidence__gte=0, confidence__lte=1), name="confidence_0_to_1"),
        ]

    def __str__(self) -> str:
        return f"Prediction {self.pk}: {', '.join(self.label_names)}"


class PredictionSkip(models.Model):
    """A feedback item a version did not classify, and why (e.g. nothing left after redaction)."""

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="prediction_skips")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="skips")
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feedback", "model_version"], name="one_skip_per_version"),
        ]

    def __str__(self) -> str:
        return f"Skipped feedback {self.feedback_id}: {self.reason}"


class LabelItem(Feedback):
    """Feedback seen as items to label under a schema: the admin list with label filters and bulk actions."""

    class Meta:
        proxy = True
        verbose_name = "item to label"
        verbose_name_plural = "items to label"


# Themes (classifiers/themes/): models of this app, kept beside their feature.
from classifiers.themes.models import (  # noqa: E402, F401
    ChangeKind,
    EditKind,
    FeedbackEmbedding,
    Theme,
    ThemeChange,
    ThemeCourse,
    ThemeEdit,
    ThemeLabel,
    ThemeMember,
    ThemeRun,
    ThemeStatus,
    ThemeSuggestion,
)
