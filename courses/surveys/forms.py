"""The survey form, built from the survey's questions; every field has a size limit."""

from __future__ import annotations

from django import forms
from django.conf import settings

from courses.models import Question, QuestionKind

from .identity import EDIT_KEY_MAX_CHARS, INVITATION_MAX_CHARS

LIKERT_CHOICES = [
    ("1", "Strongly disagree"),
    ("2", "Disagree"),
    ("3", "Neither agree nor disagree"),
    ("4", "Agree"),
    ("5", "Strongly agree"),
]


def field_name(question: Question) -> str:
    return f"q{question.pk}"


def max_body_bytes(questions: list[Question]) -> int:
    """The largest honest POST for these questions: each text character may take 12 bytes once
    UTF-8 and percent-encoded; a fixed allowance covers the token, CSRF and Likert fields."""
    text = sum(min(q.max_length, settings.FEEDBACK_MAX_CHARS) for q in questions if q.kind == QuestionKind.TEXT)
    return min(settings.SURVEY_MAX_BODY_BYTES, 8192 + 64 * len(questions) + 12 * text)


class SurveyForm(forms.Form):
    invite = forms.CharField(required=False, max_length=INVITATION_MAX_CHARS, widget=forms.HiddenInput)

    def __init__(self, *args: object, questions: list[Question], edit_code: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        if edit_code:  # anonymous surveys with edits: the student's own code reopens their answers
            self.fields["edit_code"] = forms.CharField(
                required=False, max_length=EDIT_KEY_MAX_CHARS, strip=True, label="Edit code",
                help_text="Only if you already answered and want to change your answers: the code shown "
                          "when you first sent them. Leave empty otherwise.",
            )
        for question in questions:
            self.fields[field_name(question)] = self._field_for(question)

    @staticmethod
    def _field_for(question: Question) -> forms.Field:
        if question.kind == QuestionKind.LIKERT:
            return forms.ChoiceField(
                choices=LIKERT_CHOICES, required=question.required, widget=forms.RadioSelect,
                error_messages={"required": "Choose one answer: this question is required.",
                                "invalid_choice": "Choose one of the five answers."},
            )
        limit = min(question.max_length, settings.FEEDBACK_MAX_CHARS)
        return forms.CharField(
            required=question.required, max_length=limit, strip=True,
            widget=forms.Textarea(attrs={"rows": 5}),
            error_messages={
                "required": "Write an answer: this question is required.",
                "max_length": "Shorten your answer to %(limit_value)d characters or fewer (it has %(show_value)d).",
            },
        )

    def answers(self) -> dict[Question, int | str | None]:
        """Cleaned answers by question, Likert as 1-5 and skipped questions as None."""
        out: dict[Question, int | str | None] = {}
        for question in self.questions:
            value = self.cleaned_data.get(field_name(question))
            if question.kind == QuestionKind.LIKERT:
                out[question] = int(value) if value else None
            else:
                out[question] = value or None
        return out

    def rows(self) -> list[tuple[Question, forms.BoundField]]:
        return [(q, self[field_name(q)]) for q in self.questions]
