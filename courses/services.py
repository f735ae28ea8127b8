"""State-changing functions for courses, modules and feedback."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from eduplatform.errors import DomainError

from .importers import ImportRejected, ImportRow, LongTexts, TextTooLong, fit_text
from .models import Course, DatasetSplit, Faculty, Feedback, FeedbackSource, ImportJob, Module, ScreeningStatus
from .permissions import Action, User, authorize
from .redaction import redact_text
from .screening import apply_verdict, ids_screened, screen_text
from .selectors import existing_external_ids
from .signals import feedback_created, feedback_urgent

BULK_BATCH = 2000


def redact(text: str) -> str:
    return redact_text(text, student_id_pattern=settings.PII_STUDENT_ID_PATTERN)


def get_or_create_course(
    code: str, *, actor: User | None, title: str | None = None, term: str = ""
) -> tuple[Course, bool]:
    """The course `code`, made through `create_course` (its rules and floor) when it does not exist yet."""
    existing = Course.objects.filter(code=code).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return create_course(actor=actor, code=code, title=title or code, term=term), True
    except IntegrityError:  # made meanwhile by a concurrent import
        return Course.objects.get(code=code), False


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


def announce_feedback(
    course_id: int, feedback_ids: Sequence[int], feedback: Sequence[Feedback], *, on_arrival: bool = True
) -> None:
    """Tell listeners about new feedback (`feedback`, as screened at ingest, and its ids in the same order)
    once the transaction has committed: `feedback_created` (classification, embedding, screening) with
    `feedback_ids` and `pending_ids` (those ingest left for a later screen: the screening receiver needs no
    query to find them), `feedback_urgent` (student support) with the urgent ones.

    Anonymous answers are announced with `on_arrival=False` (classified the next day), but their urgent ones
    always: a student at risk is not made to wait for the day to end.
    """
    ids = list(feedback_ids)
    urgent = ids_screened(ids, feedback, ScreeningStatus.URGENT)
    if on_arrival and ids:
        pending = ids_screened(ids, feedback, ScreeningStatus.PENDING)
        transaction.on_commit(
            lambda: feedback_created.send(sender=Feedback, course_id=course_id, feedback_ids=ids, pending_ids=pending)
        )
    if urgent:
        transaction.on_commit(
            lambda: feedback_urgent.send(sender=Feedback, course_id=course_id, feedback_ids=urgent)
        )


class FeedbackRejected(DomainError):
    """A feedback item cannot be stored; `index` is its position in a bulk request."""

    def __init__(self, message: str, *, field: str | None = None, index: int | None = None) -> None:
        super().__init__(message)
        self.field, self.index = field, index


def build_feedback(
    course: Course,
    *,
    text: str,
    source: str,
    module: Module | None = None,
    submitted_at: datetime | None = None,
    external_id: str | None = None,
    language: str = "",
    split: str = "",
    import_job: ImportJob | None = None,
    text_was_cut: bool = False,
) -> Feedback:
    """The one place a `Feedback` is made (imports, API, surveys): stripped, redacted, screened (the
    verdict on the redacted text, courses.screening), and never pointing at another course's module.
    Unsaved: each caller stores its rows its own way (bulk, one statement).
    A text cut at the limit (`fit_text`) arrives cut: redaction runs on what is kept."""
    if module is not None and module.course_id != course.pk:
        raise FeedbackRejected(f"module {module.pk} belongs to another course than {course.code}", field="module")
    text = text.strip()
    redacted = redact(text)
    feedback = Feedback(
        course=course, module=module, source=source, original_text=text, redacted_text=redacted,
        language=language, submitted_at=submitted_at or timezone.now(), external_id=external_id or None,
        split=split, import_job=import_job, text_was_cut=text_was_cut,
    )
    return apply_verdict(feedback, screen_text(redacted))


def create_feedback(course: Course, *, text: str, source: str, module: Module | None = None) -> Feedback:
    """One item, for scripts and tests: the API's ingest path (checks, redaction, `feedback_created`)."""
    (feedback,) = ingest_feedback(course, [NewFeedback(text=text, module=module)], source=source)
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
        build_feedback(
            course, text=row.text, source=source, module=modules.get(row.module) if row.module else None,
            submitted_at=row.submitted_at or now, external_id=row.external_id, split=row.split,
            import_job=import_job, text_was_cut=row.text_was_cut,
        )
        for row in rows
    ]
    created = Feedback.objects.bulk_create(objs, batch_size=BULK_BATCH)
    ids = [f.pk for f in created]
    announce_feedback(course.pk, ids, created)
    return created


# --- API ingestion (single and bulk, all-or-nothing) ------------------------------------------------


@dataclass(frozen=True)
class NewFeedback:
    text: str
    module: Module | None = None
    submitted_at: datetime | None = None
    external_id: str | None = None
    language: str = ""


def ingest_feedback(
    course: Course, items: Sequence[NewFeedback], *, source: str = FeedbackSource.API,
    long_texts: LongTexts = LongTexts.REFUSE,
) -> list[Feedback]:
    """Store every item or none: the first bad item raises FeedbackRejected with its index (TextTooLong for
    a text over FEEDBACK_MAX_CHARS, unless `long_texts` is CUT: then it is cut and marked `text_was_cut`).

    Text is redacted at ingest and `feedback_created` is sent once the transaction commits.
    """
    texts = _check_items(course, items, long_texts=LongTexts(long_texts))
    now = timezone.now()
    objs = [
        build_feedback(
            course, text=text, source=source, module=item.module, language=item.language,
            submitted_at=item.submitted_at or now, external_id=item.external_id, text_was_cut=was_cut,
        )
        for item, (text, was_cut) in zip(items, texts, strict=True)
    ]
    try:
        with transaction.atomic():
            created = Feedback.objects.bulk_create(objs, batch_size=BULK_BATCH)
            ids = [f.pk for f in created]
            announce_feedback(course.pk, ids, created)
    except IntegrityError as exc:  # another request stored the same external_id in the meantime
        raise FeedbackRejected(
            "an external_id of this request was stored by a concurrent request; retry without it",
            field="external_id",
        ) from exc
    return created


def _check_items(
    course: Course, items: Sequence[NewFeedback], *, long_texts: LongTexts
) -> list[tuple[str, bool]]:
    """Each item's text as it will be stored (stripped, cut where allowed) and whether it was cut."""
    texts: list[tuple[str, bool]] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        text = item.text.strip()
        if not text:
            raise FeedbackRejected("the text is empty", field="text", index=index)
        try:
            texts.append(fit_text(
                text, limit=settings.FEEDBACK_MAX_CHARS, long_texts=long_texts,
                student_id_pattern=settings.PII_STUDENT_ID_PATTERN, index=index,
            ))
        except TextTooLong:
            raise  # with its index; the door says how to choose "cut" there
        except ImportRejected as exc:  # too long and impossible to cut
            raise FeedbackRejected(exc.reason, field="text", index=index) from None
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
    return texts


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


# --- Changes through any door (admin, API): the rule is here, with the acting user ---------------------

logger = logging.getLogger(__name__)

FEEDBACK_EDITABLE_FIELDS = ("module", "language", "split")


def update_feedback(feedback: Feedback, *, actor: User | None, **changes: object) -> Feedback:
    """Change a feedback item's module, language or split; its text and course never change.

    The module must be one of the item's own course: a user with roles in two courses cannot move it over.
    """
    authorize(actor, Action.EDIT_FEEDBACK, feedback.course)
    unknown = set(changes) - set(FEEDBACK_EDITABLE_FIELDS)
    if unknown:
        raise FeedbackRejected(f"{', '.join(sorted(unknown))} cannot be changed; only "
                               f"{', '.join(FEEDBACK_EDITABLE_FIELDS)}", field=min(unknown))
    module = changes.get("module", feedback.module)
    if module is not None and module.course_id != feedback.course_id:
        raise FeedbackRejected(f"module {module.pk} is not a module of course {feedback.course.code}", field="module")
    if changes.get("split", "") not in DatasetSplit.values:
        raise FeedbackRejected(f"split must be one of {', '.join(DatasetSplit.values)}", field="split")
    for name, value in changes.items():
        setattr(feedback, name, value)
    if changes:
        feedback.save(update_fields=list(changes))
    return feedback


def delete_feedback(items: Iterable[Feedback], *, actor: User | None) -> int:
    """Delete the items (and their labels and predictions); refused as a whole when any item is of a
    course where `actor` may not delete. Returns how many items were deleted."""
    items = list(items.select_related("course") if hasattr(items, "select_related") else items)
    for course in {item.course_id: item.course for item in items}.values():
        authorize(actor, Action.DELETE_FEEDBACK, course)
    with transaction.atomic():
        deleted = Feedback.objects.filter(pk__in=[item.pk for item in items]).delete()[1].get(Feedback._meta.label, 0)
    logger.info("%s deleted %d feedback items", getattr(actor, "username", None) or "the system", deleted)
    return deleted


class CourseSettingsRejected(DomainError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# Settings that protect students: who may see a breakdown (group size) and which LMS course grants access.
# The faculty decides who screens the course's held comments (faculty screeners): administrators only, too.
COURSE_PRIVACY_FIELDS = ("min_group_size", "lti_context_id", "faculty")
COURSE_EDITABLE_FIELDS = ("code", "title", "term", *COURSE_PRIVACY_FIELDS)


def check_group_size(value: int | None, *, field: str = "min_group_size") -> None:
    """Groups smaller than the institution's floor are never broken down, whoever asks."""
    floor = settings.MIN_GROUP_SIZE_FLOOR
    if value is not None and value < floor:
        raise CourseSettingsRejected(
            f"{field} {value} is below the institution's floor of {floor}; choose {floor} or more", field=field
        )


def create_course(*, actor: User | None, code: str, title: str, **settings_: object) -> Course:
    """A new course (administrators only), its privacy settings within the same rules as a change."""
    authorize(actor, Action.CREATE_COURSE, None)
    unknown = set(settings_) - set(COURSE_EDITABLE_FIELDS)
    if unknown:
        raise CourseSettingsRejected(f"{', '.join(sorted(unknown))} cannot be set here", field=min(unknown))
    # The model's default (5) may sit below a stricter institution floor: a new course starts at the floor.
    default = Course._meta.get_field("min_group_size").default
    settings_.setdefault("min_group_size", max(default, settings.MIN_GROUP_SIZE_FLOOR))
    check_group_size(settings_["min_group_size"])
    if settings_.get("lti_context_id") == "":
        settings_["lti_context_id"] = None
    return Course.objects.create(code=code, title=title, **settings_)


def update_course_settings(course: Course, *, actor: User | None, **changes: object) -> Course:
    """Change a course: its title and code by its instructors and TAs, its privacy settings by
    administrators only, and `min_group_size` never below MIN_GROUP_SIZE_FLOOR.

    Compared with the stored row, not with `course`: a form may already have copied its values onto it.
    """
    unknown = set(changes) - set(COURSE_EDITABLE_FIELDS)
    if unknown:
        raise CourseSettingsRejected(f"{', '.join(sorted(unknown))} cannot be changed here", field=min(unknown))
    if changes.get("lti_context_id") == "":
        changes["lti_context_id"] = None  # unique: "no LMS course" is NULL, never an empty string
    with transaction.atomic():
        stored = Course.objects.select_for_update().get(pk=course.pk)
        changed = {name: value for name, value in changes.items() if getattr(stored, name) != value}
        if set(changed) - set(COURSE_PRIVACY_FIELDS):
            authorize(actor, Action.EDIT_COURSE, stored)
        if set(changed) & set(COURSE_PRIVACY_FIELDS):
            authorize(actor, Action.CHANGE_PRIVACY_SETTINGS, stored)
        if "min_group_size" in changed:
            check_group_size(changed["min_group_size"])
        for name, value in changed.items():
            setattr(stored, name, value)
            setattr(course, name, value)
        if changed:
            stored.save(update_fields=list(changed))
            logger.info("%s changed %s of course %s", getattr(actor, "username", None) or "the system",
                        ", ".join(sorted(changed)), stored.code)
    return course


def save_faculty(faculty: Faculty, *, actor: User | None) -> Faculty:
    """Create or rename a faculty (administrators only): it decides which courses a faculty screener screens."""
    authorize(actor, Action.MANAGE_FACULTIES, None)
    faculty.full_clean()
    faculty.save()
    logger.info("%s saved faculty %s", getattr(actor, "username", None) or "the system", faculty.code)
    return faculty


def delete_faculty(faculty: Faculty, *, actor: User | None) -> None:
    """Delete a faculty (administrators only); refused by the database (ProtectedError) while courses or
    screeners belong to it, so no faculty screener is widened to the institution by accident."""
    authorize(actor, Action.MANAGE_FACULTIES, None)
    faculty.delete()
    logger.info("%s deleted faculty %s", getattr(actor, "username", None) or "the system", faculty.code)


def delete_course(course: Course, *, actor: User | None) -> None:
    """Delete a course with everything students wrote in it: administrators only, like its privacy settings."""
    authorize(actor, Action.DELETE_COURSE, course)
    with transaction.atomic():
        Course.objects.filter(pk=course.pk).delete()
    logger.info("%s deleted course %s", getattr(actor, "username", None) or "the system", course.code)
