"""State-changing functions for courses, modules and feedback."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .importers import ImportRow
from .models import Course, Feedback, FeedbackSource, ImportJob, Module
from .redaction import redact_text
from .signals import feedback_created

BULK_BATCH = 2000


def redact(text: str) -> str:
    return redact_text(text, student_id_pattern=settings.PII_STUDENT_ID_PATTERN)


def get_or_create_course(code: str, *, title: str | None = None, term: str = "") -> tuple[Course, bool]:
    course, created = Course.objects.get_or_create(code=code, defaults={"title": title or code, "term": term})
    return course, created


def ensure_modules(course: Course, titles: Iterable[str]) -> dict[str, Module]:
    """Modules of `course` by title, creating missing ones after the existing positions."""
    wanted = list(dict.fromkeys(t for t in titles if t))
    existing = {m.title: m for m in Module.objects.filter(course=course, title__in=wanted)}
    missing = [t for t in wanted if t not in existing]
    if missing:
        start = (Module.objects.filter(course=course).aggregate(m=Max("position"))["m"] or 0) + 1
        created = Module.objects.bulk_create(
            [Module(course=course, title=t, position=start + i) for i, t in enumerate(missing)]
        )
        existing.update({m.title: m for m in created})
    return existing


def announce_feedback(course_id: int, feedback_ids: Sequence[int]) -> None:
    """Tell listeners (classification) about new feedback once the transaction has committed."""
    ids = list(feedback_ids)
    if ids:
        transaction.on_commit(
            lambda: feedback_created.send(sender=Feedback, course_id=course_id, feedback_ids=ids)
        )


def create_feedback(
    course: Course,
    *,
    text: str,
    source: str,
    module: Module | None = None,
    submitted_at: datetime | None = None,
    external_id: str | None = None,
    language: str = "",
) -> Feedback:
    if module is not None and module.course_id != course.pk:
        raise ValueError("the module belongs to another course")
    text = text.strip()
    with transaction.atomic():
        feedback = Feedback.objects.create(
            course=course,
            module=module,
            source=source,
            original_text=text,
            redacted_text=redact(text),
            language=language,
            submitted_at=submitted_at or timezone.now(),
            external_id=external_id,
        )
        announce_feedback(course.pk, [feedback.pk])
    return feedback


def bulk_create_feedback(
    course: Course,
    rows: Sequence[ImportRow],
    *,
    modules: dict[str, Module],
    source: str = FeedbackSource.IMPORT,
    import_job: ImportJob | None = None,
) -> list[Feedback]:
    """Create one Feedback per row (the caller holds the transaction and has validated the rows)."""
    now = timezone.now()
    objs = [
        Feedback(
            course=course,
            module=modules.get(row.module) if row.module else None,
            source=source,
            original_text=row.text,
            redacted_text=redact(row.text),
            submitted_at=row.submitted_at or now,
            external_id=row.external_id,
            split=row.split,
            import_job=import_job,
        )
        for row in rows
    ]
    created = Feedback.objects.bulk_create(objs, batch_size=BULK_BATCH)
    announce_feedback(course.pk, [f.pk for f in created])
    return created
