"""Writing, publishing and unpublishing "you said, we did" responses; each change recorded with its actor."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from courses.models import Course, Module
from courses.permissions import Action, User, authorize
from eduplatform.errors import DomainError

from .models import (
    WE_DID_MAX_CHARS,
    YOU_SAID_MAX_CHARS,
    Decision,
    LoopResponse,
    LoopRevision,
    LoopStatus,
    RevisionAction,
)


class LoopRejected(DomainError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _checked(course: Course, module: Module | None, you_said: str, we_did: str, decision: str) -> tuple[str, str]:
    you_said, we_did = (you_said or "").strip(), (we_did or "").strip()
    if module is not None and module.course_id != course.pk:
        raise LoopRejected(f"module {module.pk} is not a module of course {course.code}", field="module")
    for name, text, limit, label in (("you_said", you_said, YOU_SAID_MAX_CHARS, "“You said”"),
                                     ("we_did", we_did, WE_DID_MAX_CHARS, "“We did”")):
        if not text:
            raise LoopRejected(f"{label} is empty; write what students said and what you will do.", field=name)
        if len(text) > limit:
            raise LoopRejected(f"{label} has {len(text):,} characters; the limit is {limit:,}.", field=name)
    if decision not in Decision.values:
        raise LoopRejected(f"decision must be one of {', '.join(Decision.values)}, not {decision!r}", field="decision")
    return you_said, we_did


def _record(item: LoopResponse, action: str, actor: User | None) -> None:
    LoopRevision.objects.create(
        response=item, action=action, actor=actor if getattr(actor, "pk", None) else None, module=item.module,
        you_said=item.you_said, we_did=item.we_did, decision=item.decision, status=item.status,
    )


def write_loop_response(course: Course, *, module: Module | None, you_said: str, we_did: str,
                        decision: str = Decision.CHANGE, actor: User | None) -> LoopResponse:
    """A new draft (students see nothing until it is published)."""
    authorize(actor, Action.RESPOND_TO_FEEDBACK, course)
    you_said, we_did = _checked(course, module, you_said, we_did, decision)
    with transaction.atomic():
        item = LoopResponse.objects.create(course=course, module=module, you_said=you_said, we_did=we_did,
                                           decision=decision, created_by=actor if getattr(actor, "pk", None) else None)
        _record(item, RevisionAction.CREATED, actor)
    return item


def edit_loop_response(item: LoopResponse, *, module: Module | None, you_said: str, we_did: str, decision: str,
                       actor: User | None) -> LoopResponse:
    """Change the text (a published response stays published, with its new text: the history keeps the old)."""
    authorize(actor, Action.RESPOND_TO_FEEDBACK, item.course)
    you_said, we_did = _checked(item.course, module, you_said, we_did, decision)
    with transaction.atomic():
        locked = LoopResponse.objects.select_for_update().get(pk=item.pk)
        if (locked.module_id, locked.you_said, locked.we_did, locked.decision) == (
                getattr(module, "pk", None), you_said, we_did, decision):
            return locked
        locked.module, locked.you_said, locked.we_did, locked.decision = module, you_said, we_did, decision
        locked.save(update_fields=["module", "you_said", "we_did", "decision", "updated_at"])
        _record(locked, RevisionAction.EDITED, actor)
    return locked


def _set_status(item: LoopResponse, status: str, action: str, actor: User | None) -> LoopResponse:
    authorize(actor, Action.RESPOND_TO_FEEDBACK, item.course)
    with transaction.atomic():
        locked = LoopResponse.objects.select_for_update().get(pk=item.pk)
        if locked.status == status:
            return locked
        locked.status = status
        if status == LoopStatus.PUBLISHED:
            locked.published_at = timezone.now()
        locked.save(update_fields=["status", "published_at", "updated_at"])
        _record(locked, action, actor)
    return locked


def publish_loop_response(item: LoopResponse, *, actor: User | None) -> LoopResponse:
    """Students of the course see it from now on (landing page, survey intro); staff beside the report."""
    return _set_status(item, LoopStatus.PUBLISHED, RevisionAction.PUBLISHED, actor)


def unpublish_loop_response(item: LoopResponse, *, actor: User | None) -> LoopResponse:
    """Back to a draft: students no longer see it."""
    return _set_status(item, LoopStatus.DRAFT, RevisionAction.UNPUBLISHED, actor)
