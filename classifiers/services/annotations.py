"""Recording annotations: one current annotation per annotator per item, history kept."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from courses.models import Feedback
from eduplatform.errors import DomainError

from ..models import Annotation, AnnotationLabel, AnnotationSource, Label, LabelSchema, SchemaKind


class AnnotationRejected(DomainError):
    pass


def validate_label_choice(schema: LabelSchema, labels: Sequence[Label]) -> None:
    if not labels:
        raise AnnotationRejected("choose at least one label")
    if any(label.schema_id != schema.pk for label in labels):
        raise AnnotationRejected(f'a chosen label is not part of schema "{schema.name}"')
    if schema.kind != SchemaKind.MULTI and len(labels) > 1:
        raise AnnotationRejected(f'schema "{schema.name}" is {schema.get_kind_display()}: choose exactly one label')


def record_annotation(
    feedback: Feedback,
    schema: LabelSchema,
    labels: Sequence[Label],
    *,
    actor: AbstractBaseUser,
) -> Annotation:
    """Save `actor`'s labels for `feedback`; their previous annotation stays as history."""
    if schema.course_id not in (None, feedback.course_id):
        raise AnnotationRejected("the schema belongs to another course")
    validate_label_choice(schema, labels)
    with transaction.atomic():
        Annotation.objects.filter(
            feedback=feedback, schema=schema, annotator=actor, source=AnnotationSource.HUMAN, is_current=True
        ).update(is_current=False)
        annotation = Annotation.objects.create(
            feedback=feedback, schema=schema, annotator=actor, source=AnnotationSource.HUMAN
        )
        AnnotationLabel.objects.bulk_create(AnnotationLabel(annotation=annotation, label=lb) for lb in labels)
    return annotation
