"""State-changing functions for courses, modules and feedback."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from eduplatform.errors import DomainError

from .importers import ImportRow
from .models import Course, Feedback, FeedbackSource, ImportJob, Module
from .redaction import redact_text
from .selectors import existing_external_ids
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


# --- API ingestion (single and bulk, all-or-nothing) ------------------------------------------------


class FeedbackRejected(DomainError):
    """A feedback item cannot be stored; `index` is its position in a bulk request."""

    def __init__(self, message: str, *, field: str | None = None, index: int | None = None) -> None:
        super().__init__(message)
        self.field, self.index = field, index


@dataclass(frozen=True)
class NewFeedback:
    text: str
    module: Module | None = None
    submitted_at: datetime | None = None
    external_id: str | None = None
    language: str = ""


def ingest_feedback(
    course: Course, items: Sequence[NewFeedback], *, source: str = FeedbackSource.API
) -> list[Feedback]:
    """Store every item or none: the first bad item raises FeedbackRejected with its index.

    Text is redacted at ingest and `feedback_created` is sent once the transaction commits.
    """
    _check_items(course, items)
    now = timezone.now()
    objs = [
        Feedback(
            course=course, module=item.module, source=source, original_text=item.text.strip(),
            redacted_text=redact(item.text.strip()), language=item.language,
            submitted_at=item.submitted_at or now, external_id=item.external_id or None,
        )
        for item in items
    ]
    try:
        with transaction.atomic():
            created = Feedback.objects.bulk_create(objs, batch_size=BULK_BATCH)
            announce_feedback(course.pk, [f.pk for f in created])
    except IntegrityError as exc:  # another request stored the same external_id in the meantime
        raise FeedbackRejected(
            "an external_id of this request was stored by a concurrent request; retry without it",
            field="external_id",
        ) from exc
    return created


def _check_items(course: Course, items: Sequence[NewFeedback]) -> None:
    limit = settings.FEEDBACK_MAX_CHARS
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        text = item.text.strip()
        if not text:
            raise FeedbackRejected("the text is empty", field="text", index=index)
        if len(text) > limit:
            raise FeedbackRejected(f"the text has {len(text)} characters; at most {limit}", field="text", index=index)
        if item.module is not None and item.module.course_id != course.pk:
            raise FeedbackRejected("the module belongs to another course", field="module", index=index)
        if item.external_id:
            if item.external_id in seen:
                raise FeedbackRejected(
                    f"external_id {item.external_id!r} repeats item {seen[item.external_id]}",
                    field="external_id", index=index,
                )
            seen[item.external_id] = index
    taken = existing_external_ids(course, list(seen)) if seen else set()
    if taken:
        external_id = min(taken, key=seen.__getitem__)  # report the earliest offending item
        raise FeedbackRejected(
            f"external_id {external_id!r} already exists in course {course.code}",
            field="external_id", index=seen[external_id],
        )


MODULE_POSITION_MAX = 2**31 - 1  # PositiveIntegerField is a 4-byte integer in PostgreSQL


class ModuleRejected(DomainError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def create_module(course: Course, *, title: str, position: int | None = None) -> Module:
    """Add a module to `course`, after the existing ones unless a position is given."""
    title = title.strip()
    if not title:
        raise ModuleRejected("the title is empty", field="title")
    if Module.objects.filter(course=course, title=title).exists():
        raise ModuleRejected(f'course {course.code} already has a module "{title}"', field="title")
    if position is None:
        position = (Module.objects.filter(course=course).aggregate(m=Max("position"))["m"] or 0) + 1
    if not 0 <= position <= MODULE_POSITION_MAX:
        raise ModuleRejected(f"position must be between 0 and {MODULE_POSITION_MAX}", field="position")
    return Module.objects.create(course=course, title=title, position=position)
