"""Read-only queries of the classifiers app."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Q, QuerySet

from courses.models import Course

from .models import AnnotationLabel, LabelSchema, ModelVersion


def schemas_for_course(course: Course) -> QuerySet[LabelSchema]:
    """The course's own schemas and the institution-wide ones."""
    return LabelSchema.objects.filter(Q(course=course) | Q(course__isnull=True)).order_by("name")


def training_labels(schema: LabelSchema, *, course: Course | None) -> dict[int, list[str]]:
    """feedback id → the label names that count as truth under the schema's training policy.

    `course=None` means every course (institution-wide scope). Only current human and import
    annotations count; model suggestions count only once a person confirmed them.
    """
    return latest_labels(schema, course=course)


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


def active_version_for(schema: LabelSchema, course: Course | None) -> ModelVersion | None:
    """The version whose predictions count for `course`: its own active one, else the institution's.

    An institution-wide schema can have a per-course model and an institution-wide model; a course
    without its own active model falls back to the institution-wide one.
    """
    # course and schema too: str(version) names both, and report pages show it on every view.
    versions = ModelVersion.objects.filter(schema=schema, is_active=True).select_related(
        "training_run", "course", "schema"
    )
    if course is not None:
        own = versions.filter(course=course).first()
        if own is not None or not schema.is_institution_wide:
            return own
    return versions.filter(course__isnull=True).first()
