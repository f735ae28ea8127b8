"""Read-only queries of the classifiers app."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce
from operator import or_

from django.db.models import Exists, F, Q, QuerySet

from classifiers.models import (
    AnnotationLabel,
    AnnotationSource,
    LabelSchema,
    ModelVersion,
    Prediction,
    SchemaKind,
    TrainingPolicy,
)
from courses.models import Course
from courses.permissions import ANNOTATE_ROLES, User, courses_for_user


def _visible_in(courses: Iterable[Course] | QuerySet[Course]) -> Q:
    # The one rule: a course sees its own schemas and the institution-wide ones, but the screening schema:
    # its labels say which comments screeners held and why, for screeners only (classifiers.screening).
    return (Q(course__in=courses) | Q(course__isnull=True)) & Q(screening_policy__isnull=True)


def schemas_for_course(course: Course) -> QuerySet[LabelSchema]:
    """The course's own schemas and the institution-wide ones."""
    return LabelSchema.objects.filter(_visible_in([course])).order_by("name")


def schemas_for_user(user: User, roles: tuple[str, ...] = ANNOTATE_ROLES) -> QuerySet[LabelSchema]:
    """Every schema visible in a course where `user` holds one of `roles` (institution-wide ones included)."""
    return LabelSchema.objects.filter(_visible_in(courses_for_user(user, roles))).order_by("name")


def schema_named(course: Course, name: str) -> LabelSchema | None:
    """The schema called `name` in `course`: the course's own one, else the institution-wide one."""
    return schemas_for_course(course).filter(name=name).order_by(F("course").asc(nulls_last=True)).first()


def training_labels(schema: LabelSchema, *, course: Course | None) -> dict[int, list[str]]:
    """feedback id → the label names that count as truth under the schema's training policy.

    `course=None` means every course (institution-wide scope). Only current human and import
    annotations count; model suggestions count only once a person confirmed them.

    - latest: the most recent current annotation of the item, whoever made it;
    - majority: the label set most annotators gave (multi-label: each label more than half chose);
      a tie, or no label with a majority, leaves the item out until someone settles it;
    - reviewer: the designated reviewer's label where they gave one, else the majority.
    """
    if schema.training_policy == TrainingPolicy.LATEST:
        return latest_labels(schema, course=course)
    votes = current_votes(schema, course=course)
    chosen: dict[int, list[str]] = {}
    reviewer = schema.reviewer_id if schema.training_policy == TrainingPolicy.REVIEWER else None
    for feedback_id, item in votes.items():
        if reviewer is not None and reviewer in item.by_annotator:
            names = item.by_annotator[reviewer].labels
        else:
            names = majority_label_set(item, multi=schema.kind == SchemaKind.MULTI)
        if names:
            chosen[feedback_id] = sorted(names, key=item.order.__getitem__)
    return chosen


@dataclass(frozen=True)
class Vote:
    annotation_id: int
    created_at: datetime
    labels: frozenset[str]


@dataclass
class ItemVotes:
    """One item's current annotations: annotator id (None for an import) → their vote."""

    by_annotator: dict[int | None, Vote] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)  # label name → position, to sort the result


def current_votes(schema: LabelSchema, *, course: Course | None) -> dict[int, ItemVotes]:
    """feedback id → every current annotation of it under `schema` (one per annotator, imports as None)."""
    rows = (
        AnnotationLabel.objects.filter(annotation__schema=schema, annotation__is_current=True)
        .filter(**({"annotation__feedback__course": course} if course else {}))
        .values_list("annotation__feedback_id", "annotation_id", "annotation__annotator_id",
                     "annotation__source", "annotation__created_at", "label__name", "label__position")
    )
    grouped: dict[tuple[int, int], list] = defaultdict(list)
    for fid, aid, annotator, source, created, name, position in rows.iterator(chunk_size=5000):
        grouped[(fid, aid)].append((annotator if source == AnnotationSource.HUMAN else None, created, name, position))
    items: dict[int, ItemVotes] = defaultdict(ItemVotes)
    for (fid, aid), entries in grouped.items():
        annotator, created = entries[0][0], entries[0][1]
        item = items[fid]
        item.by_annotator[annotator] = Vote(aid, created, frozenset(e[2] for e in entries))
        item.order.update((e[2], e[3]) for e in entries)
    return dict(items)


def majority_label_set(item: ItemVotes, *, multi: bool) -> frozenset[str]:
    """The majority's labels, or an empty set when there is none (a tie)."""
    votes = list(item.by_annotator.values())
    if multi:
        counts = Counter(name for vote in votes for name in vote.labels)
        return frozenset(name for name, n in counts.items() if n * 2 > len(votes))
    ranked = Counter(vote.labels for vote in votes).most_common(2)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return frozenset()
    return ranked[0][0]


def latest_labels(schema: LabelSchema, *, course: Course | None = None) -> dict[int, list[str]]:
    """feedback id → label names of the most recent current annotation (human or import)."""
    rows = (
        AnnotationLabel.objects.filter(annotation__schema=schema, annotation__is_current=True)
        .filter(**({"annotation__feedback__course": course} if course else {}))
        .order_by("annotation__feedback_id", "-annotation__created_at", "-annotation_id", "label__position")
        .values_list("annotation__feedback_id", "annotation_id", "label__name")
    )
    chosen: dict[int, int] = {}
    labels: dict[int, list[str]] = defaultdict(list)
    for feedback_id, annotation_id, name in rows.iterator(chunk_size=5000):
        if chosen.setdefault(feedback_id, annotation_id) == annotation_id:
            labels[feedback_id].append(name)
    return dict(labels)


def _serving(versions: Iterable[ModelVersion], course_id: int | None) -> ModelVersion | None:
    """The one rule of which version serves a course: its own active one, else the institution-wide one."""
    versions = list(versions)
    own = next((v for v in versions if course_id is not None and v.course_id == course_id), None)
    return own or next((v for v in versions if v.course_id is None), None)


def _active_versions(schema: LabelSchema) -> QuerySet[ModelVersion]:
    # course and schema too: str(version) names both, and pages show it.
    return ModelVersion.objects.filter(schema=schema, is_active=True).select_related(
        "training_run", "course", "schema"
    )


def active_version_for(schema: LabelSchema, course: Course | None) -> ModelVersion | None:
    """The version whose predictions count for `course`: its own active one, else the institution-wide one.

    `course=None` asks for the institution-wide active version.
    """
    return _serving(_active_versions(schema), course.pk if course is not None else None)


def serving_version_ids(course_id: int) -> list[int]:
    """Ids of the versions that serve `course_id`, one per schema the course sees: `schemas_for_course` and
    `active_version_for`'s rules in one lean query, for the on-arrival path (every survey submission at the
    end-of-term peak; three ORM queries with their model rows were half of a submission's CPU there)."""
    rows = (
        ModelVersion.objects.filter(Q(course_id=course_id) | Q(course__isnull=True), is_active=True)
        .filter(schema__in=LabelSchema.objects.filter(_visible_in([course_id])).values("pk"))
        .filter(Exists(Course.objects.filter(pk=course_id)))  # a course deleted meanwhile is served by none
        .values_list("pk", "schema_id", "course_id")
    )
    by_schema: dict[int, list[ModelVersion]] = defaultdict(list)
    for pk, schema_id, version_course in rows:
        by_schema[schema_id].append(ModelVersion(pk=pk, schema_id=schema_id, course_id=version_course))
    return sorted(v.pk for v in (_serving(versions, course_id) for versions in by_schema.values()) if v)


def versions_serving(schema: LabelSchema, course_ids: Iterable[int]) -> dict[int, ModelVersion]:
    """course id → the version that serves it (courses no version serves are left out); one query."""
    versions = list(_active_versions(schema))
    serving = {cid: _serving(versions, cid) for cid in set(course_ids)}
    return {cid: v for cid, v in serving.items() if v is not None}


def serving_predictions(schema: LabelSchema, course_ids: Iterable[int]) -> QuerySet[Prediction]:
    """Predictions under `schema` made by the version that serves each item's course; others don't count."""
    by_version: dict[ModelVersion, list[int]] = {}
    for cid, version in versions_serving(schema, course_ids).items():
        by_version.setdefault(version, []).append(cid)
    if not by_version:
        return Prediction.objects.none()
    return Prediction.objects.filter(
        reduce(or_, (Q(model_version=v, feedback__course_id__in=cids) for v, cids in by_version.items())),
        schema=schema,
    )
