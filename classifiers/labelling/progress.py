"""Selectors for the schema page: progress, agreement between annotators, and the disagreeing items."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet

from classifiers.ml.agreement import Agreement, agreement
from classifiers.models import Annotation, AnnotationLabel, LabelSchema, SchemaKind
from classifiers.selectors import active_version_for, current_votes
from courses.models import Course, Feedback
from courses.screening import shown_to_course_staff


def schema_agreement(schema: LabelSchema, *, course: Course) -> Agreement | dict[str, Agreement]:
    """Agreement between human annotators on `course`'s items.

    Single-label and ordinal schemas get one statistic (ordinal-aware for ordinal schemas); multi-label
    schemas get one per label, each over "has this label or not".
    """
    votes = current_votes(schema, course=course)
    humans = {
        fid: {annotator: vote.labels for annotator, vote in item.by_annotator.items() if annotator is not None}
        for fid, item in votes.items()
    }
    positions = dict(schema.labels.values_list("name", "position"))
    if schema.kind == SchemaKind.MULTI:
        return {
            name: agreement({fid: {a: name in labels for a, labels in by.items()} for fid, by in humans.items()})
            for name in positions
        }
    by_item = {fid: {a: positions[next(iter(labels))] for a, labels in by.items()} for fid, by in humans.items()}
    return agreement(by_item, ordinal=schema.kind == SchemaKind.ORDINAL, categories=sorted(positions.values()))


def disagreeing_feedback_ids(schema: LabelSchema, *, course: Course, settled: bool = False) -> list[int]:
    """Items whose current annotations (human or import) differ; without `settled`, only those the
    schema's reviewer has not labelled yet."""
    reviewer = schema.reviewer_id
    ids = []
    for fid, item in current_votes(schema, course=course).items():
        if len({vote.labels for vote in item.by_annotator.values()}) < 2:
            continue
        if settled or reviewer is None or reviewer not in item.by_annotator:
            ids.append(fid)
    return sorted(ids)


ADJUDICATION_PAGE = 50  # disagreeing items shown at once: a reviewer settles them one by one


def adjudication_rows(schema: LabelSchema, *, course: Course, limit: int = ADJUDICATION_PAGE) -> tuple[list[dict], int]:
    """The newest disagreeing items with every current vote as (annotator name or "import", labels), and
    how many items disagree in all."""
    ids = disagreeing_feedback_ids(schema, course=course)
    page = ids[:limit]
    votes = current_votes(schema, course=course)
    annotators = {vote_by for fid in page for vote_by in votes[fid].by_annotator if vote_by is not None}
    user_model = get_user_model()
    names = dict(user_model.objects.filter(pk__in=annotators).values_list("pk", user_model.USERNAME_FIELD))
    rows = [
        {"feedback": fb, "votes": sorted((names.get(a, "?") if a is not None else "import", sorted(v.labels))
                                         for a, v in votes[fb.pk].by_annotator.items())}
        for fb in shown_to_course_staff(Feedback.objects.filter(pk__in=page)).select_related("module")
        .order_by("-submitted_at")
    ]
    return rows, len(ids)


def schema_course_stats(schema: LabelSchema, courses: QuerySet[Course], *, limit: int = 20) -> list[dict]:
    """Progress and agreement per course for the schema page: the schema's own course, or (institution-wide)
    each of `courses`."""
    if schema.course_id:
        courses = courses.filter(pk=schema.course_id)
    stats = []
    for course in courses[:limit]:
        agreement_ = schema_agreement(schema, course=course)
        per_label = isinstance(agreement_, dict)
        stats.append({
            "course": course, "progress": schema_progress(schema, course=course),
            "agreement": None if per_label else agreement_,
            "agreement_by_label": sorted(agreement_.items()) if per_label else [],
        })
    return stats


@dataclass(frozen=True)
class Progress:
    items: int
    labelled: int
    per_label: list[tuple[str, str, int]]  # name, colour, items
    per_annotator: list[tuple[str, int]]
    since_active_model: int | None  # human labels made since the active version was created
    active_version: str | None


def schema_progress(schema: LabelSchema, *, course: Course) -> Progress:
    """How far labelling is, per label and annotator, and how much is new since the active model."""
    current = Annotation.objects.filter(schema=schema, is_current=True, feedback__course=course)
    labelled = current.values("feedback_id").distinct().count()
    per_label = (
        AnnotationLabel.objects.filter(annotation__in=current)
        .values("label__name", "label__color", "label__position")
        .annotate(n=Count("annotation__feedback_id", distinct=True))
        .order_by("label__position")
    )
    user_model = get_user_model()
    per_annotator = (
        current.exclude(annotator=None).values("annotator")
        .annotate(n=Count("pk")).order_by("-n")
    )
    names = dict(user_model.objects.filter(pk__in=[r["annotator"] for r in per_annotator])
                 .values_list("pk", user_model.USERNAME_FIELD))
    version = active_version_for(schema, course)
    since = None
    if version is not None:
        since = current.filter(Q(created_at__gt=version.created_at), annotator__isnull=False).count()
    return Progress(
        items=shown_to_course_staff(Feedback.objects.filter(course=course)).count(),
        labelled=labelled,
        per_label=[(r["label__name"], r["label__color"], r["n"]) for r in per_label],
        per_annotator=[(names.get(r["annotator"], "?"), r["n"]) for r in per_annotator],
        since_active_model=since,
        active_version=str(version) if version else None,
    )
