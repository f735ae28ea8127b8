"""Reads for the survey pages: the survey with its questions, and a respondent's earlier answers."""

from __future__ import annotations

import time

from django.conf import settings
from django.db.models import Prefetch
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from courses.models import Question, QuestionKind, Survey, SurveyResponse

# survey id -> (loaded at, survey with prefetched questions). Per process; read-only once stored.
_definitions: dict[int, tuple[float, Survey]] = {}
_MAX_CACHED = 500


def survey_with_questions(survey_id: int) -> Survey | None:
    """The survey and its questions in position order; None when it does not exist.

    Kept in memory for SURVEY_DEFINITION_CACHE_S: at hundreds of submissions a second the two queries
    per request were a third of the database round trips, for data that changes a few times a term.
    """
    ttl = settings.SURVEY_DEFINITION_CACHE_S
    now = time.monotonic()
    cached = _definitions.get(survey_id)
    if ttl > 0 and cached is not None and now - cached[0] < ttl:
        return cached[1]
    survey = (
        Survey.objects.select_related("course", "module")
        .prefetch_related(Prefetch("questions", queryset=Question.objects.order_by("position", "pk")))
        .filter(pk=survey_id)
        .first()
    )
    if ttl > 0 and survey is not None:
        if len(_definitions) >= _MAX_CACHED:
            _definitions.clear()
        _definitions[survey_id] = (now, survey)
    return survey


@receiver([post_save, post_delete], sender=Survey, dispatch_uid="surveys.forget_survey")
@receiver([post_save, post_delete], sender=Question, dispatch_uid="surveys.forget_question")
def forget_definition(sender: type, instance: Survey | Question, **_: object) -> None:
    """Edits made in this process apply at once (other processes: within the cache delay)."""
    _definitions.pop(instance.pk if sender is Survey else instance.survey_id, None)


def response_for(survey: Survey, respondent_key: str) -> SurveyResponse | None:
    return SurveyResponse.objects.filter(survey=survey, respondent_key=respondent_key).first()


def answers_for_form(response: SurveyResponse) -> dict[int, int | str]:
    """The respondent's own earlier answers by question id, to pre-fill the form when editing."""
    values: dict[int, int | str] = {}
    for answer in response.answers.select_related("question", "feedback"):
        if answer.question.kind == QuestionKind.LIKERT and answer.likert_value is not None:
            values[answer.question_id] = answer.likert_value
        elif answer.feedback is not None:
            values[answer.question_id] = answer.feedback.original_text
    return values
