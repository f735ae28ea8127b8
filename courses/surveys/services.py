"""Submitting and editing survey responses: one response per respondent, feedback in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from courses.models import Answer, Feedback, FeedbackSource, Question, QuestionKind, Survey, SurveyResponse
from courses.services import announce_feedback, redact
from eduplatform.errors import DomainError

from .identity import Respondent
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
    def __init__(self) -> None:
        super().__init__("You have already answered this survey; each student can answer once.")


@dataclass(frozen=True)
class SubmissionResult:
    response: SurveyResponse
    created: bool


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
    now: datetime | None = None,
) -> SubmissionResult:
    """Store a first response, or replace the answers of an existing one when the survey allows edits.

    The database's unique (survey, respondent_key) decides between two simultaneous first submissions.
    """
    now = now or timezone.now()
    state = survey_state(survey, now=now)
    if state != "open":
        raise SurveyNotOpen(survey, state)
    if not respondent.is_learner:
        raise DomainError("Staff see a preview of the survey; only students can submit answers.")
    response = SurveyResponse(
        survey=survey,
        respondent_key=respondent.key,
        user_id=None if survey.is_anonymous else user_id,
        respondent_label="" if survey.is_anonymous else respondent.label,
    )
    try:
        feedback = _create_first_response(survey, response, answers, now=now)
        announce_feedback(survey.course_id, feedback)
        return SubmissionResult(response=response, created=True)
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != UNIQUE_RESPONSE_CONSTRAINT:
            raise
    if not survey.allow_edit:
        raise AlreadyResponded()
    with transaction.atomic():
        # The row lock serialises two edits of the same response.
        response = SurveyResponse.objects.select_for_update().get(survey=survey, respondent_key=respondent.key)
        _replace_answers(survey, response, answers, now=now)
        response.save(update_fields=["updated_at"])
    return SubmissionResult(response=response, created=False)


def _new_feedback(survey: Survey, text: str, now: datetime) -> Feedback:
    return Feedback(
        course_id=survey.course_id, module_id=survey.module_id, source=FeedbackSource.SURVEY,
        original_text=text, redacted_text=redact(text), submitted_at=now,
    )


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


def _create_first_response(
    survey: Survey, response: SurveyResponse, answers: Mapping[Question, AnswerValue], *, now: datetime
) -> list[int]:
    feedback, rows = _answer_rows(survey, answers, now=now)
    return insert_response(response, feedback, rows)


def _create_answers(
    survey: Survey, response: SurveyResponse, answers: Mapping[Question, AnswerValue], *, now: datetime
) -> None:
    feedback, rows = _answer_rows(survey, answers, now=now)
    created = Feedback.objects.bulk_create(feedback)
    Answer.objects.bulk_create([
        Answer(response=response, question=a.question, likert_value=a.likert_value,
               feedback=None if i is None else created[i])
        for a, i in rows
    ])
    announce_feedback(survey.course_id, [f.pk for f in created])


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
