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

from classifiers.labelling.services import AnnotationRejected, confirmed_suggestions, validate_label_choice
from classifiers.models import Annotation, AnnotationLabel, AnnotationSource, Label, LabelSchema
from classifiers.selectors import serving_predictions
from courses.models import Course, Feedback
from courses.permissions import Action, authorize

CHUNK = 20_000


@dataclass(frozen=True)
class BulkResult:
    changed: int
    skipped: int = 0


def _authorize(items: QuerySet[Feedback], schema: LabelSchema, actor: AbstractBaseUser) -> dict[int, int]:
    """feedback id → course id of `items`, once `actor` may annotate in every course they span."""
    course_ids = dict(items.order_by().values_list("pk", "course_id"))
    for course in Course.objects.filter(pk__in=set(course_ids.values())):
        authorize(actor, Action.ANNOTATE, course)
    if schema.course_id is not None and set(course_ids.values()) - {schema.course_id}:
        raise AnnotationRejected(f'some items are not in course of schema "{schema.name}"; nothing was changed')
    return course_ids


def _record(schema: LabelSchema, chosen: dict[int, tuple[Label, ...]], course_ids: dict[int, int], *,
            actor: AbstractBaseUser) -> None:
    """Write `actor`'s annotations, `suggested_by` decided by the same rule as `record_annotation`."""
    names = {fid: [lb.name for lb in labels] for fid, labels in chosen.items()}
    suggested = confirmed_suggestions(schema, names, course_ids=course_ids)
    groups: dict[tuple[tuple[Label, ...], int | None], list[int]] = defaultdict(list)
    for fid, labels in chosen.items():
        groups[(labels, suggested.get(fid))].append(fid)
    for (labels, version_id), ids in groups.items():
        _write(schema, ids, labels, actor=actor, suggested_by_id=version_id)


def _write(schema: LabelSchema, ids: Sequence[int], labels: Sequence[Label], *, actor: AbstractBaseUser,
           suggested_by_id: int | None = None) -> None:
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
            [schema.pk, actor.pk, AnnotationSource.HUMAN, suggested_by_id, list(ids)],
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
    course_ids = _authorize(items, schema, actor)
    validate_label_choice(schema, labels)
    ids, chosen = list(course_ids), tuple(labels)
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            _record(schema, dict.fromkeys(ids[start:start + CHUNK], chosen), course_ids, actor=actor)
    return BulkResult(changed=len(ids))


def accept_suggestions(items: QuerySet[Feedback], schema: LabelSchema, *, actor: AbstractBaseUser) -> BulkResult:
    """`actor` confirms the suggestion of the version serving each item's course; items without one are skipped."""
    course_ids = _authorize(items, schema, actor)
    labels = {lb.name: lb for lb in schema.labels.all()}
    ids = list(course_ids)
    predicted = serving_predictions(schema, course_ids.values())
    changed = 0
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            chosen: dict[int, tuple[Label, ...]] = {}
            for fid, names in predicted.filter(feedback_id__in=ids[start:start + CHUNK]).values_list(
                    "feedback_id", "label_names"):
                known = tuple(labels[n] for n in sorted(names) if n in labels)
                if known:
                    chosen[fid] = known
            _record(schema, chosen, course_ids, actor=actor)
            changed += len(chosen)
    return BulkResult(changed=changed, skipped=len(ids) - changed)


def clear_labels(items: QuerySet[Feedback], schema: LabelSchema, *, actor: AbstractBaseUser) -> BulkResult:
    """Withdraw `actor`'s current labels on `items`; the rows stay as (non-current) history."""
    _authorize(items, schema, actor)
    with transaction.atomic():
        changed = Annotation.objects.filter(
            feedback__in=items.order_by().values("pk"), schema=schema, annotator=actor,
            source=AnnotationSource.HUMAN, is_current=True,
        ).update(is_current=False)
    return BulkResult(changed=changed)
