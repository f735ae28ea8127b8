"""Bulk labelling over a whole (filtered) set of feedback items, a few statements per chunk.

Admin actions call these with the changelist's filtered queryset, which may hold every row of a
course; rows are written in chunks with set-based statements instead of one save per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet

from courses.models import Feedback

from ..models import Annotation, AnnotationLabel, AnnotationSource, Label, LabelSchema, ModelVersion, Prediction
from .annotations import AnnotationRejected, validate_label_choice

CHUNK = 2000


@dataclass(frozen=True)
class BulkResult:
    changed: int
    skipped: int = 0


def _check_scope(items: QuerySet[Feedback], schema: LabelSchema) -> None:
    if schema.course_id is not None and items.exclude(course_id=schema.course_id).exists():
        raise AnnotationRejected(f'some items are not in course of schema "{schema.name}"; nothing was changed')


def _write(schema: LabelSchema, labels_by_item: dict[int, Sequence[Label]], *, actor: AbstractBaseUser,
           suggested_by: ModelVersion | None = None) -> None:
    ids = list(labels_by_item)
    Annotation.objects.filter(
        feedback_id__in=ids, schema=schema, annotator=actor, source=AnnotationSource.HUMAN, is_current=True
    ).update(is_current=False)
    created = Annotation.objects.bulk_create(
        Annotation(feedback_id=i, schema=schema, annotator=actor, source=AnnotationSource.HUMAN,
                   suggested_by=suggested_by)
        for i in ids
    )
    AnnotationLabel.objects.bulk_create(
        AnnotationLabel(annotation=a, label=lb) for a in created for lb in labels_by_item[a.feedback_id]
    )


def label_items(items: QuerySet[Feedback], schema: LabelSchema, labels: Sequence[Label], *,
                actor: AbstractBaseUser) -> BulkResult:
    """`actor` labels every item of `items` with `labels` (their earlier labels stay as history)."""
    validate_label_choice(schema, labels)
    _check_scope(items, schema)
    ids = list(items.order_by().values_list("pk", flat=True))
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            _write(schema, {i: labels for i in ids[start:start + CHUNK]}, actor=actor)
    return BulkResult(changed=len(ids))


def accept_suggestions(items: QuerySet[Feedback], schema: LabelSchema, version: ModelVersion, *,
                       actor: AbstractBaseUser) -> BulkResult:
    """`actor` confirms `version`'s suggestion for every item that has one; the others are skipped."""
    if version.schema_id != schema.pk:
        raise AnnotationRejected("the model version belongs to another schema")
    _check_scope(items, schema)
    labels = {lb.name: lb for lb in schema.labels.all()}
    ids = list(items.order_by().values_list("pk", flat=True))
    changed = 0
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            suggested = Prediction.objects.filter(model_version=version, feedback_id__in=ids[start:start + CHUNK])
            chosen = {
                fid: [labels[n] for n in names if n in labels]
                for fid, names in suggested.values_list("feedback_id", "label_names")
            }
            chosen = {fid: lbs for fid, lbs in chosen.items() if lbs}
            if chosen:
                _write(schema, chosen, actor=actor, suggested_by=version)
            changed += len(chosen)
    return BulkResult(changed=changed, skipped=len(ids) - changed)


def clear_labels(items: QuerySet[Feedback], schema: LabelSchema, *, actor: AbstractBaseUser) -> BulkResult:
    """Withdraw `actor`'s current labels on `items`; the rows stay as (non-current) history."""
    _check_scope(items, schema)
    with transaction.atomic():
        changed = Annotation.objects.filter(
            feedback__in=items.order_by().values("pk"), schema=schema, annotator=actor,
            source=AnnotationSource.HUMAN, is_current=True,
        ).update(is_current=False)
    return BulkResult(changed=changed)
