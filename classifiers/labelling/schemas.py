"""Label schemas and their labels. An institution-wide schema (course None) is changed by administrators only."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max

from classifiers.models import Label, LabelSchema, RareLabels, SchemaKind
from courses.models import Course
from courses.permissions import Action, authorize
from eduplatform.errors import DomainError

DEFAULT_SCHEMA = "sentiment"
DEFAULT_SENTIMENT_LABELS = (
    ("negative", "#dc2626", "Criticism, frustration or a problem to fix."),
    ("neutral", "#6b7280", "Factual, mixed without a clear lean, or a suggestion without judgement."),
    ("positive", "#16a34a", "Praise, satisfaction or enjoyment."),
)
PALETTE = ("#2563eb", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#4b5563")


class SchemaError(DomainError):
    pass


def create_default_sentiment_schema(course: Course) -> LabelSchema:
    schema, created = LabelSchema.objects.get_or_create(
        course=course,
        name=DEFAULT_SCHEMA,
        defaults={"kind": SchemaKind.SINGLE, "description": "Overall sentiment of the comment."},
    )
    if created:
        Label.objects.bulk_create(
            Label(schema=schema, name=name, position=i, color=color, description=desc)
            for i, (name, color, desc) in enumerate(DEFAULT_SENTIMENT_LABELS)
        )
    return schema


def create_schema(
    name: str, *, kind: str, course: Course | None = None, labels: Sequence[str] = (), description: str = "",
    rare_labels: str = RareLabels.LEAVE_OUT, actor: AbstractBaseUser | None,
) -> LabelSchema:
    """A new schema of `course` (None: institution-wide) with `labels` in order."""
    authorize(actor, Action.EDIT_SCHEMA, course)
    if kind not in SchemaKind.values:
        raise SchemaError(f"{kind!r} is not a schema kind ({', '.join(SchemaKind.values)})")
    if rare_labels not in RareLabels.values:
        raise SchemaError(f"{rare_labels!r} is not a rare-labels setting ({', '.join(RareLabels.values)})")
    with transaction.atomic():
        schema = LabelSchema.objects.create(course=course, name=name, kind=kind, description=description,
                                            rare_labels=rare_labels)
        _append_labels(schema, labels)
    return schema


def add_labels(schema: LabelSchema, names: Sequence[str], *, actor: AbstractBaseUser | None) -> list[Label]:
    """Append `names` to the schema's labels, after the existing ones."""
    authorize(actor, Action.CREATE_LABELS, schema.course)
    return _append_labels(schema, names)


def _append_labels(schema: LabelSchema, names: Sequence[str]) -> list[Label]:
    start = (schema.labels.aggregate(m=Max("position"))["m"] or -1) + 1
    return Label.objects.bulk_create(
        Label(schema=schema, name=n, position=start + i, color=PALETTE[(start + i) % len(PALETTE)])
        for i, n in enumerate(names)
    )


def delete_label(label: Label, *, actor: AbstractBaseUser | None) -> None:
    """Refuse to delete a label that annotations use, saying how many."""
    authorize(actor, Action.EDIT_SCHEMA, label.schema.course)
    ensure_label_deletable(label)
    label.delete()


def ensure_label_deletable(label: Label) -> None:
    used = label.annotations.count()
    if used:
        raise SchemaError(
            f'label "{label.name}" is used by {used} annotation(s); relabel them or rename the label instead'
        )
