"""Submitting and editing survey responses: one response per respondent, feedback in the same transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from courses.models import Answer, Feedback, FeedbackSource, Question, QuestionKind, Survey, SurveyResponse
from courses.permissions import Action, User, authorize
from courses.services import announce_feedback, build_feedback, check_group_size
from eduplatform.errors import DomainError

from .anonymity import day_of, random_id
from .identity import Respondent, edit_key_digest, edit_key_matches, make_invitation, new_edit_key
from .storage import insert_response

UNIQUE_RESPONSE_CONSTRAINT = "one_response_per_respondent"

# A cleaned answer: 1-5 for Likert questions, text for free-text ones, None (or "") when skipped.
AnswerValue = int | str | None


class SurveyNotOpen(DomainError):
    def __init__(self, survey: Survey, state: str) -> None:
        self.state = state
        when = timezone.localtime(survey.opens_at if state == "upcoming" else survey.closes_at)
        stamp = when.strftime("%-d %B %Y, %H:%M %Z")
        super().__init__(
            f"This survey opens on {stamp}." if state == "upcoming" else f"This survey closed on {stamp}."
        )


class AlreadyResponded(DomainError):
    def __init__(self, message: str = "You have already answered this survey; each student can answer once.") -> None:
        super().__init__(message)


EDIT_CODE_NEEDED = ("This link has already been used to answer. To change those answers, enter the edit code "
                    "shown when they were first sent.")


@dataclass(frozen=True)
class SubmissionResult:
    response: SurveyResponse
    created: bool
    edit_key: str = ""  # anonymous surveys with edits: the new response's edit code, for the student only


def survey_state(survey: Survey, *, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if now < survey.opens_at:
        return "upcoming"
    return "open" if now < survey.closes_at else "closed"


def submit_survey_response(
    survey: Survey,
    *,
    respondent: Respondent,
    answers: Mapping[Question, AnswerValue],
    user_id: int | None = None,
    edit_key: str = "",
    now: datetime | None = None,
    on_first_response: Callable[[], None] | None = None,
) -> SubmissionResult:
    """Store a first response, or replace the answers of an existing one when the survey allows edits.

    The database's unique (survey, respondent_key) decides between two simultaneous first submissions.
    Anonymous surveys: rows keep only the day and get random ids (see `anonymity`), and an existing
    response is changed only with its edit code (`edit_key`): the invitation link was in staff's hands.
    `on_first_response` runs in the first response's transaction (participation credit: the LMS score is
    then never lost nor given without a response); it is given nothing of the response.
    """
    now = now or timezone.now()
    state = survey_state(survey, now=now)
    if state != "open":
        raise SurveyNotOpen(survey, state)
    if not respondent.is_learner:
        raise DomainError("Staff see a preview of the survey; only students can submit answers.")
    anonymous = survey.is_anonymous
    stamp = day_of(now) if anonymous else now
    new_key = new_edit_key() if anonymous and survey.allow_edit else ""
    response = SurveyResponse(
        survey=survey,
        respondent_key=respondent.key,
        user_id=None if anonymous else user_id,
        respondent_label="" if anonymous else respondent.label,
        edit_key_digest=edit_key_digest(survey.pk, new_key) if new_key else "",
        submitted_at=stamp,
        updated_at=stamp,
    )
    try:
        with transaction.atomic() if on_first_response else nullcontext():
            ids, feedback = _create_first_response(survey, response, answers, now=stamp)
            if on_first_response is not None:
                on_first_response()
        # Anonymous feedback waits for the next day's classification sweep (see `_create_answers`).
        announce_feedback(survey.course_id, ids, feedback, on_arrival=not anonymous)
        return SubmissionResult(response=response, created=True, edit_key=new_key)
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != UNIQUE_RESPONSE_CONSTRAINT:
            raise
    if not survey.allow_edit:
        raise AlreadyResponded()
    with transaction.atomic():
        # The row lock serialises two edits of the same response.
        response = SurveyResponse.objects.select_for_update().get(survey=survey, respondent_key=respondent.key)
        if anonymous and not edit_key_matches(survey.pk, edit_key, response.edit_key_digest):
            raise AlreadyResponded(EDIT_CODE_NEEDED)
        _replace_answers(survey, response, answers, now=stamp)
        SurveyResponse.objects.filter(pk=response.pk).update(updated_at=stamp)
    return SubmissionResult(response=response, created=False)


def _new_feedback(survey: Survey, text: str, now: datetime) -> Feedback:
    return build_feedback(survey.course, text=text, source=FeedbackSource.SURVEY, module=survey.module,
                          submitted_at=now)


def _text(value: AnswerValue) -> str:
    return value.strip() if isinstance(value, str) else ""


def _answer_rows(
    survey: Survey, answers: Mapping[Question, AnswerValue], *, now: datetime
) -> tuple[list[Feedback], list[tuple[Answer, int | None]]]:
    """Unsaved feedback for non-empty free text, and answers pointing at it by index."""
    feedback: list[Feedback] = []
    rows: list[tuple[Answer, int | None]] = []
    for question, value in answers.items():
        if question.kind == QuestionKind.TEXT and _text(value):
            feedback.append(_new_feedback(survey, _text(value), now))
            rows.append((Answer(question=question), len(feedback) - 1))
        elif question.kind == QuestionKind.LIKERT and value not in (None, ""):
            rows.append((Answer(question=question, likert_value=int(value)), None))
    return feedback, rows


def _preset_ids(survey: Survey, rows: Sequence[Feedback | Answer | SurveyResponse]) -> None:
    """Anonymous surveys: random ids and the day as creation time (the row's order and minute stay unknown)."""
    if survey.is_anonymous:
        for row in rows:
            row.pk = random_id()
            if isinstance(row, Feedback):
                row.created_at = row.submitted_at


def _create_first_response(
    survey: Survey, response: SurveyResponse, answers: Mapping[Question, AnswerValue], *, now: datetime
) -> tuple[list[int], list[Feedback]]:
    """The new feedback ids, and the feedback (unsaved instances, as screened) in the same order."""
    feedback, rows = _answer_rows(survey, answers, now=now)
    for attempt in (1, 2):  # a random id taken already (about 1 in 10^9 per row): draw again, once
        _preset_ids(survey, [response, *feedback, *(a for a, _ in rows)])
        try:
            ids = insert_response(response, feedback, rows, preset_ids=survey.is_anonymous)
            return ids, feedback
        except IntegrityError as exc:
            name = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or ""
            if attempt == 2 or not (survey.is_anonymous and name.endswith("_pkey")):
                raise
    raise AssertionError("unreachable")


def _create_answers(
    survey: Survey, response: SurveyResponse, answers: Mapping[Question, AnswerValue], *, now: datetime
) -> None:
    feedback, rows = _answer_rows(survey, answers, now=now)
    _preset_ids(survey, feedback)
    created = Feedback.objects.bulk_create(feedback)
    new_answers = [Answer(response=response, question=a.question, likert_value=a.likert_value,
                          feedback=None if i is None else created[i]) for a, i in rows]
    _preset_ids(survey, new_answers)
    Answer.objects.bulk_create(new_answers)
    # Anonymous feedback waits for the next day's classification sweep: a prediction made on arrival
    # would carry the exact time (and place in the prediction sequence) that the row itself no longer has.
    announce_feedback(survey.course_id, [f.pk for f in created], created, on_arrival=not survey.is_anonymous)


def _replace_answers(
    survey: Survey, response: SurveyResponse, answers: Mapping[Question, AnswerValue], *, now: datetime
) -> None:
    """Keep unchanged text (and its labels); changed text becomes new feedback, the old item goes."""
    old = {a.question_id: a for a in response.answers.select_related("feedback")}
    stale_feedback: list[int] = []
    stale_answers: list[int] = []
    kept: dict[Question, AnswerValue] = {}
    for question, value in answers.items():
        answer = old.get(question.pk)
        if question.kind == QuestionKind.TEXT and answer and answer.feedback and answer.feedback.original_text == _text(
            value
        ):
            continue  # unchanged: leave the answer, its feedback and any labels as they are
        if answer:
            stale_answers.append(answer.pk)
            if answer.feedback_id:
                stale_feedback.append(answer.feedback_id)
        kept[question] = value
    Answer.objects.filter(pk__in=stale_answers, response=response).delete()
    Feedback.objects.filter(pk__in=stale_feedback, course_id=survey.course_id).delete()
    _create_answers(survey, response, kept, now=now)


# --- Staff's changes: survey settings and invitation links ---------------------------------------------

logger = logging.getLogger(__name__)

MAX_INVITATIONS = 5000  # links per request: one CSV a mail merge can take, signed in well under a second
SURVEY_EDITABLE_FIELDS = ("course", "module", "title", "intro", "opens_at", "closes_at", "is_anonymous",
                          "allow_edit", "min_group_size")


class SurveyRejected(DomainError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def save_survey(survey: Survey, *, actor: User | None, changed: Sequence[str] = SURVEY_EDITABLE_FIELDS) -> Survey:
    """Store a new survey or the `changed` fields of one (values already set on `survey`).

    Course staff edit surveys; administrators alone change what protects respondents: the group-size
    override (never below the floor) and anonymity once anyone has answered (students were told).
    """
    changed = [name for name in changed if name in SURVEY_EDITABLE_FIELDS]
    stored = Survey.objects.select_related("course").filter(pk=survey.pk).first() if survey.pk else None
    if stored is not None:
        changed = [name for name in changed if getattr(stored, name) != getattr(survey, name)]
        if "course" in changed:
            raise SurveyRejected("a survey cannot move to another course", field="course")
    privacy = {"min_group_size"} if stored is not None or survey.min_group_size is not None else set()
    if stored is not None and "is_anonymous" in changed and stored.responses.exists():
        privacy.add("is_anonymous")
    if stored is None or set(changed) - privacy:
        authorize(actor, Action.EDIT_SURVEY, survey.course)
    if privacy & set(changed):
        authorize(actor, Action.CHANGE_PRIVACY_SETTINGS, survey.course)
    if "min_group_size" in changed:
        check_group_size(survey.min_group_size)
    if survey.module is not None and survey.module.course_id != survey.course_id:
        raise SurveyRejected(f"module {survey.module_id} is not a module of course {survey.course.code}",
                             field="module")
    if stored is None:
        survey.save()
    elif changed:
        survey.save(update_fields=changed)
    return survey


def issue_invitations(
    survey: Survey, recipients: Sequence[str], *, actor: User | None, expires_at: datetime | None = None
) -> list[tuple[str, str]]:
    """One signed link token per recipient ("" for a link tied to nobody), as (recipient, token) pairs.

    Nothing is stored (a token is verified by its signature); who issued how many is logged.
    Anonymous surveys take no names, only a number of unassigned links ("" recipients): no list the
    server makes, stores or logs pairs a person with a link. Staff hand the links out at random (one
    each, e.g. in class or by a mail merge of their own that keeps no copy); and since a link alone never
    reopens an anonymous answer (see `submit_survey_response`), whoever keeps a link learns nothing from it.
    """
    authorize(actor, Action.ISSUE_INVITATIONS, survey.course)
    if not recipients:
        raise SurveyRejected("give a number of links or a list of recipients", field="recipients")
    if survey.is_anonymous and any(recipients):
        raise SurveyRejected("this survey is anonymous: ask for a number of links not tied to anyone and hand "
                             "them out at random, so that no list pairs a student with a link",
                             field="recipients")
    if len(recipients) > MAX_INVITATIONS:
        raise SurveyRejected(f"{len(recipients)} links asked for; at most {MAX_INVITATIONS} at a time",
                             field="recipients")
    issued = [(recipient, make_invitation(survey, recipient=recipient, expires_at=expires_at))
              for recipient in recipients]
    logger.info("%s issued %d invitation links for survey %s of %s",
                getattr(actor, "username", None) or "the system", len(issued), survey.pk, survey.course.code)
    return issued
