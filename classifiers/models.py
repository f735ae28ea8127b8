"""Label schemas, annotations (with history), and later training runs, model versions and predictions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from courses.models import Course, Feedback


class SchemaKind(models.TextChoices):
    SINGLE = "single", "Single-label"
    MULTI = "multi", "Multi-label"
    ORDINAL = "ordinal", "Ordinal"


class TrainingPolicy(models.TextChoices):
    LATEST = "latest", "Latest annotation wins"
    MAJORITY = "majority", "Majority of annotators"
    REVIEWER = "reviewer", "Designated reviewer's label wins"


class LabelSchema(models.Model):
    """A set of labels; per course, or institution-wide when `course` is empty."""

    course = models.ForeignKey(Course, null=True, blank=True, on_delete=models.CASCADE, related_name="schemas")
    name = models.SlugField(max_length=64)
    kind = models.CharField(max_length=16, choices=SchemaKind.choices, default=SchemaKind.SINGLE)
    description = models.TextField(blank=True, help_text="Guidelines shown to annotators.")
    training_policy = models.CharField(max_length=16, choices=TrainingPolicy.choices, default=TrainingPolicy.LATEST)
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
        ]

    def __str__(self) -> str:
        scope = self.course.code if self.course_id else "institution"
        return f"{self.name} ({scope})"

    @property
    def is_institution_wide(self) -> bool:
        return self.course_id is None


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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["schema", "is_current"], name="annotation_schema_current")]
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
