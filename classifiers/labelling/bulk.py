"""Bulk labelling over a whole (filtered) set of feedback items, a few statements per chunk.

Admin actions call these with the changelist's filtered queryset, which may hold every row of a
course; rows are written in chunks with set-based statements instead of one save per item.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import QuerySet

from classifiers.labelling.services import AnnotationRejected, validate_label_choice
from classifiers.models import (
    Annotation,
    AnnotationLabel,
    AnnotationSource,
    Label,
    LabelSchema,
    ModelVersion,
    Prediction,
)
from courses.models import Feedback

CHUNK = 20_000


@dataclass(frozen=True)
class BulkResult:
    changed: int
    skipped: int = 0


def _check_scope(items: QuerySet[Feedback], schema: LabelSchema) -> None:
    if schema.course_id is not None and items.exclude(course_id=schema.course_id).exists():
        raise AnnotationRejected(f'some items are not in course of schema "{schema.name}"; nothing was changed')


def _write(schema: LabelSchema, ids: Sequence[int], labels: Sequence[Label], *, actor: AbstractBaseUser,
           suggested_by: ModelVersion | None = None) -> None:
    """`actor`'s new current annotation with `labels` on every item of `ids`, set-based.

    Two INSERT … SELECT unnest() statements instead of building one model object per row: labelling a
    whole course (100,000 items) from an admin action must fit in a web request.
    """
    Annotation.objects.filter(
        feedback_id__in=ids, schema=schema, annotator=actor, source=AnnotationSource.HUMAN, is_current=True
    ).update(is_current=False)
    annotation, link = Annotation._meta.db_table, AnnotationLabel._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {annotation} (feedback_id, schema_id, annotator_id, source, is_current, suggested_by_id,"  # noqa: S608 - table names from model meta
            " created_at, updated_at) SELECT f, %s, %s, %s, true, %s, now(), now() FROM unnest(%s::bigint[]) AS f"
            " RETURNING id",
            [schema.pk, actor.pk, AnnotationSource.HUMAN, suggested_by.pk if suggested_by else None, list(ids)],
        )
        created = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"INSERT INTO {link} (annotation_id, label_id) SELECT a, l FROM unnest(%s::bigint[]) AS a"  # noqa: S608
            " CROSS JOIN unnest(%s::bigint[]) AS l",
            [created, [lb.pk for lb in labels]],
        )


def label_items(items: QuerySet[Feedback], schema: LabelSchema, labels: Sequence[Label], *,
                actor: AbstractBaseUser) -> BulkResult:
    """`actor` labels every item of `items` with `labels` (their earlier labels stay as history)."""
    validate_label_choice(schema, labels)
    _check_scope(items, schema)
    ids = list(items.order_by().values_list("pk", flat=True))
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            _write(schema, ids[start:start + CHUNK], labels, actor=actor)
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
            by_label_set: dict[tuple[str, ...], list[int]] = defaultdict(list)
            for fid, names in suggested.values_list("feedback_id", "label_names"):
                known = tuple(sorted(n for n in names if n in labels))
                if known:
                    by_label_set[known].append(fid)
            for names, group in by_label_set.items():
                _write(schema, group, [labels[n] for n in names], actor=actor, suggested_by=version)
                changed += len(group)
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
