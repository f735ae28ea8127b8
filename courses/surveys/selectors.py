"""Reads for the survey pages: the survey with its questions, and a respondent's earlier answers."""

from __future__ import annotations

from django.db.models import Prefetch

from courses.models import Question, QuestionKind, Survey, SurveyResponse


def survey_with_questions(survey_id: int) -> Survey | None:
    """The survey and its questions in position order (two queries); None when it does not exist."""
    return (
        Survey.objects.select_related("course", "module")
        .prefetch_related(Prefetch("questions", queryset=Question.objects.order_by("position", "pk")))
        .filter(pk=survey_id)
        .first()
    )


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
