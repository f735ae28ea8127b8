"""Screening services: the policy, the screener role, screeners' decisions, and the sweep that screens what
ingest left pending. Every change takes its actor and is authorised here (courses.permissions)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet

from classifiers.classification.services import classify_pending
from classifiers.ml.screening import ACCEPTABLE, REASONS
from classifiers.models import (
    Annotation,
    AnnotationLabel,
    AnnotationSource,
    Label,
    LabelSchema,
    ModelVersion,
    SchemaKind,
    TrainingRun,
)
from classifiers.screening.models import Decision, ScreeningDecision, ScreeningPolicy
from classifiers.screening.screens import default_verdict, forget_policy, policy_snapshot, verdicts_from_predictions
from classifiers.training.services import start_training_run
from courses.models import Faculty, Feedback, Screener, ScreeningStatus
from courses.permissions import Action, User, authorize
from courses.screening import Verdict
from courses.surveys.anonymity import visible_to_staff
from eduplatform.errors import BROKER_ERRORS, DomainError

logger = logging.getLogger(__name__)

SCREENING_SCHEMA = "screening"
SCHEMA_GUIDELINES = (
    "Screeners' decisions on held comments (institution-wide, never shown to course staff). "
    "acceptable: fine to show. offensive: abusive or obscene language. personal_remark: about a person's "
    "appearance or identity. threat: a threat to someone's safety. distress: the student may be at risk."
)
SCREENER_REDACTION = "[removed by a screener]"
NOTE_MAX = 2000


class ScreeningRefused(DomainError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- The policy and its schema --------------------------------------------------------------------------


def screening_policy() -> ScreeningPolicy:
    """The institution's policy row, with its multi-label schema of screeners' decisions; both made on first
    use, in one transaction (a schema without its policy would be shown to every course as an ordinary one)."""
    policy = ScreeningPolicy.objects.filter(pk=1).select_related("schema").first()
    if policy is not None:
        return policy
    try:
        with transaction.atomic():
            schema = LabelSchema.objects.create(course=None, name=SCREENING_SCHEMA, kind=SchemaKind.MULTI,
                                                description=SCHEMA_GUIDELINES)
            names = (ACCEPTABLE, *REASONS)
            colours = ("#16a34a", "#dc2626", "#d97706", "#7c3aed", "#2563eb")
            Label.objects.bulk_create(Label(schema=schema, name=name, position=i, color=colour)
                                      for i, (name, colour) in enumerate(zip(names, colours, strict=True)))
            return ScreeningPolicy.objects.create(pk=1, schema=schema)
    except IntegrityError:  # made meanwhile by another process (or the name is taken: say so)
        policy = ScreeningPolicy.objects.filter(pk=1).select_related("schema").first()
        if policy is None:
            raise ScreeningRefused(f"an institution-wide schema is already called {SCREENING_SCHEMA!r}; rename it so "
                                   "that screening can make its own") from None
        return policy


POLICY_FIELDS = ("hold_threshold", "trained_threshold", "use_trained_screen", "support_email")


def update_screening_policy(*, actor: User | None, **changes: object) -> ScreeningPolicy:
    """Change thresholds or the support contact (administrators only); thresholds between 0 and 1."""
    authorize(actor, Action.CHANGE_SCREENING_POLICY, None)
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise ScreeningRefused(f"{', '.join(sorted(unknown))} cannot be changed; only {', '.join(POLICY_FIELDS)}",
                               field=min(unknown))
    for name in ("hold_threshold", "trained_threshold"):
        if name in changes and not (isinstance(changes[name], int | float) and 0 <= changes[name] <= 1):
            raise ScreeningRefused(f"{name} must be a number between 0 and 1, got {changes[name]!r}", field=name)
    policy = screening_policy()
    for name, value in changes.items():
        setattr(policy, name, value)
    policy.updated_by = actor if getattr(actor, "pk", None) else None
    policy.save()
    forget_policy()
    logger.info("%s changed the screening policy: %s", getattr(actor, "username", None) or "the system",
                ", ".join(f"{k}={v}" for k, v in sorted(changes.items())))
    return policy


# --- The screener role --------------------------------------------------------------------------------


def grant_screener(user: AbstractBaseUser, *, actor: User | None, note: str = "",
                   faculty: Faculty | None = None) -> Screener:
    """Make `user` a screener (administrators only) of the whole institution or of `faculty`'s courses, or
    change an existing screener's scope and note; the queue is in admin, so they get staff status too."""
    authorize(actor, Action.GRANT_SCREENER, None)
    if not user.is_active:
        raise ScreeningRefused(f"{user.get_username()} is not an active user", field="user")
    with transaction.atomic():
        screener, created = Screener.objects.update_or_create(
            user=user, create_defaults={"granted_by": actor if getattr(actor, "pk", None) else None,
                                        "note": note[:255], "faculty": faculty},
            defaults={"note": note[:255], "faculty": faculty})
        if not user.is_staff:
            type(user).objects.filter(pk=user.pk).update(is_staff=True)
            user.is_staff = True
    scope = f"of faculty {faculty.code}" if faculty is not None else "institution-wide"
    logger.info("%s %s %s a screener %s", getattr(actor, "username", None) or "the system",
                "made" if created else "kept", user.get_username(), scope)
    return screener


def revoke_screener(screener: Screener, *, actor: User | None) -> None:
    authorize(actor, Action.GRANT_SCREENER, None)
    Screener.objects.filter(pk=screener.pk).delete()
    logger.info("%s revoked the screener role of %s", getattr(actor, "username", None) or "the system",
                screener.user.get_username())


def train_screening_model(*, actor: User | None, config: dict | None = None, dispatch: bool = True) -> TrainingRun:
    """Train the screening schema institution-wide on the screeners' decisions (administrators only), through
    the product's training path; its first version that beats the baseline becomes the trained screen.
    `dispatch=False` leaves the run queued for an in-process `run_training` (bench/screening.py)."""
    return start_training_run(screening_policy().schema, course=None, config=config, actor=actor, dispatch=dispatch)


# --- Decisions ------------------------------------------------------------------------------------------


def _check_reasons(reasons: Sequence[str], action: str) -> list[str]:
    chosen = list(dict.fromkeys(reasons))
    unknown = [r for r in chosen if r not in REASONS]
    if unknown:
        raise ScreeningRefused(f"{', '.join(map(repr, unknown))} is not a reason ({', '.join(REASONS)})",
                               field="reasons")
    if action != Decision.RELEASE and not chosen:
        raise ScreeningRefused(f"say why: choose at least one reason ({', '.join(REASONS)})", field="reasons")
    return [r for r in REASONS if r in chosen]


def _check_span(span: tuple[int, int] | None, action: str, text: str) -> tuple[int, int] | None:
    if action != Decision.RELEASE_REDACTED:
        if span is not None:
            raise ScreeningRefused("a span is redacted only when releasing with a span redacted", field="span")
        return None
    if span is None:
        raise ScreeningRefused("select the words to redact first", field="span")
    start, end = span
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise ScreeningRefused(f"the span {start}-{end} is not within the comment's {len(text)} characters",
                               field="span")
    return start, end


def decide(feedback: Feedback, *, action: str, actor: User, reasons: Sequence[str] = (), note: str = "",
           span: tuple[int, int] | None = None) -> ScreeningDecision:
    """A screener's decision on a held comment: release it, release it with `span` (character offsets in its
    redacted text) replaced, or remove it (kept, not counted). Recorded in the audit trail with `reasons` and
    `note`, and as the screener's annotation of the text as it now stands under the screening schema
    (training labels): released, "acceptable" and the reasons the screener still sees in it (e.g. distress);
    released with a span redacted, "acceptable" (the words the reasons were about are gone); removed, the
    reasons."""
    authorize(actor, Action.SCREEN, feedback.course)
    if action not in Decision.values:
        raise ScreeningRefused(f"{action!r} is not a decision ({', '.join(Decision.values)})", field="action")
    chosen = _check_reasons(reasons, action)
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ScreeningRefused(f"the note has {len(note)} characters; at most {NOTE_MAX}", field="note")
    schema = screening_policy().schema
    with transaction.atomic():
        item = Feedback.objects.select_for_update().select_related("course").get(pk=feedback.pk)
        if item.screening not in (ScreeningStatus.HELD, ScreeningStatus.URGENT):
            raise ScreeningRefused(f"comment {item.pk} is not held for review (it is "
                                   f"{item.get_screening_display().lower()}); nothing to decide")
        checked = _check_span(span, action, item.redacted_text)
        decision = ScreeningDecision.objects.create(
            feedback=item, course=item.course, course_code=item.course.code, action=action, reasons=chosen,
            note=note, span_start=checked[0] if checked else None, span_end=checked[1] if checked else None,
            verdict=item.screening, screen=item.screened_with, screen_reasons=item.screening_reasons,
            score=item.screening_score, arrived_at=item.created_at, actor=actor,
        )
        if checked:
            item.redacted_text = item.redacted_text[:checked[0]] + SCREENER_REDACTION + item.redacted_text[checked[1]:]
        item.screening = ScreeningStatus.REMOVED if action == Decision.REMOVE else ScreeningStatus.RELEASED
        item.save(update_fields=["screening", "redacted_text"])
        _record_label(item, schema, _training_labels(action, chosen), actor)
    logger.info("%s: %s comment %s of %s", actor.get_username(), action, item.pk, item.course.code)
    return decision


def _training_labels(action: str, reasons: list[str]) -> list[str]:
    if action == Decision.REMOVE:
        return reasons
    return [ACCEPTABLE] if action == Decision.RELEASE_REDACTED else [ACCEPTABLE, *reasons]


def _record_label(feedback: Feedback, schema: LabelSchema, names: list[str], actor: User) -> Annotation:
    """The decision as the screener's current annotation of the comment (their earlier one kept as history)."""
    labels = list(schema.labels.filter(name__in=names))
    Annotation.objects.filter(feedback=feedback, schema=schema, annotator=actor, source=AnnotationSource.HUMAN,
                              is_current=True).update(is_current=False)
    annotation = Annotation.objects.create(feedback=feedback, schema=schema, annotator=actor,
                                           source=AnnotationSource.HUMAN)
    AnnotationLabel.objects.bulk_create(AnnotationLabel(annotation=annotation, label=label) for label in labels)
    return annotation


# --- The sweep: pending comments get their verdict --------------------------------------------------------


@dataclass
class ScreenPass:
    read: int = 0
    screened: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    urgent_ids: list[int] = field(default_factory=list)


def pending_for_screening(trained: ModelVersion | None) -> QuerySet[Feedback]:
    """Comments waiting for a verdict, oldest first. For the trained screen only those classification may
    read now (today's anonymous answers wait for tomorrow, as everywhere: courses.surveys.anonymity)."""
    rows = Feedback.objects.filter(screening=ScreeningStatus.PENDING)
    return (visible_to_staff(rows) if trained is not None else rows).order_by("created_at", "pk")


def screen_pending(*, limit: int, feedback_ids: Sequence[int] | None = None) -> ScreenPass:
    """Give up to `limit` pending comments their verdict; each call commits on its own (resumable: a killed
    worker leaves the rest pending, hidden, for the next call). The trained screen, when one serves, first
    classifies them through the classification path (its own transaction, outside ours)."""
    snapshot = policy_snapshot()
    trained = (ModelVersion.objects.select_related("schema").filter(pk=snapshot.trained_version_id, is_active=True)
               .first() if snapshot.trained_version_id else None)
    rows = pending_for_screening(trained)
    if feedback_ids is not None:
        rows = rows.filter(pk__in=list(feedback_ids))
    texts = dict(rows.values_list("pk", "redacted_text")[:limit])
    result = ScreenPass(read=len(texts))
    if not texts:
        return result
    if trained is not None:
        classify_pending(trained, feedback_ids=list(texts), limit=len(texts))
        verdicts = verdicts_from_predictions(trained, texts, threshold=snapshot.trained_threshold)
    else:
        verdicts = {pk: default_verdict(text, hold_threshold=snapshot.hold_threshold) for pk, text in texts.items()}
    with transaction.atomic():
        done = _store_verdicts(verdicts)
        result.urgent_ids = [pk for pk in done if verdicts[pk].status == ScreeningStatus.URGENT]
        if result.urgent_ids:
            from classifiers.screening.notifications import queue_urgent_notifications

            ids = list(result.urgent_ids)
            transaction.on_commit(lambda: queue_urgent_notifications(ids))
    result.screened = len(done)
    for pk in done:
        result.by_status[verdicts[pk].status] = result.by_status.get(verdicts[pk].status, 0) + 1
    return result


def _store_verdicts(verdicts: dict[int, Verdict]) -> list[int]:
    """One UPDATE … FROM unnest(…) of the rows still pending (a concurrent pass may have done some: those
    are left as they are and not counted). Returns the ids updated."""
    if not verdicts:
        return []
    ids = list(verdicts)
    table = Feedback._meta.db_table
    sql = f"""
        UPDATE {table} AS f SET screening = v.s, screening_reasons = v.r::jsonb, screening_score = v.c,
               screened_with = v.w
        FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::float8[], %s::text[]) AS v(id, s, r, c, w)
        WHERE f.id = v.id AND f.screening = %s
        RETURNING f.id
    """  # noqa: S608 - the table name is ours; every value is a parameter
    params = [ids, [verdicts[i].status for i in ids], [json.dumps(list(verdicts[i].reasons)) for i in ids],
              [verdicts[i].score for i in ids], [verdicts[i].screen[:128] for i in ids], ScreeningStatus.PENDING]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def queue_screening(pending_ids: Sequence[int]) -> None:
    """On arrival: the comments ingest left pending (a trained screen serves; `feedback_created` names them, so
    a submission whose comments were all decided at ingest costs nothing here) go to the screening task, in
    chunks; with the broker down they wait, hidden, for the sweep."""
    from classifiers.tasks import screen_feedback_task

    pending = list(pending_ids)
    size = settings.SCREENING_BATCH_SIZE
    try:
        for start in range(0, len(pending), size):
            screen_feedback_task.apply_async((pending[start:start + size],), retry=False)
    except BROKER_ERRORS:
        logger.warning("broker unreachable: %d comments wait, hidden, for the screening sweep", len(pending),
                       exc_info=True)
