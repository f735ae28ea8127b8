"""The demo course's open survey: the student's side of the demo, reached by an invitation link."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from courses.models import Course, Question, QuestionKind, Survey
from courses.surveys.services import issue_invitations, save_survey, survey_state

SURVEY_TITLE = "DATA201 end-of-term survey"
OPEN_FOR = timedelta(days=120)  # a demo run months later finds it closed and opens it again
QUESTIONS = [
    (QuestionKind.LIKERT, "The lectures helped me learn.", True),
    (QuestionKind.LIKERT, "The workload was manageable.", False),
    (QuestionKind.LIKERT, "The feedback on my assignments helped me improve.", False),
    (QuestionKind.TEXT, "What worked well in this course, and what should change?", False),
]


def ensure_demo_survey(course: Course, *, actor: AbstractBaseUser | None) -> Survey:
    """The demo survey, created once and open now: anonymous (invitation links carry nobody's name),
    one answer per link. Running the demo again changes nothing unless the survey has closed meanwhile."""
    now = timezone.now()
    survey = Survey.objects.filter(course=course, title=SURVEY_TITLE).order_by("pk").first()
    if survey is None:
        with transaction.atomic():
            survey = save_survey(
                Survey(
                    course=course,
                    title=SURVEY_TITLE,
                    opens_at=now - timedelta(minutes=1),
                    closes_at=now + OPEN_FOR,
                    is_anonymous=True,
                    allow_edit=False,
                    intro="How did DATA201 go for you this term? Your answers help us plan next year's course.",
                ),
                actor=actor,
            )
            Question.objects.bulk_create(
                [
                    Question(survey=survey, position=i, kind=kind, prompt=prompt, required=required, max_length=1000)
                    for i, (kind, prompt, required) in enumerate(QUESTIONS, start=1)
                ]
            )
    elif survey_state(survey, now=now) != "open":
        survey.opens_at, survey.closes_at = min(survey.opens_at, now - timedelta(minutes=1)), now + OPEN_FOR
        save_survey(survey, actor=actor, changed=["opens_at", "closes_at"])
    return survey


def student_link(survey: Survey, *, actor: AbstractBaseUser | None, base_url: str) -> str:
    """A fresh single-use invitation link (not tied to anyone: the survey is anonymous)."""
    [(_, token)] = issue_invitations(survey, [""], actor=actor)
    path = reverse("surveys:survey", kwargs={"survey_id": survey.pk})
    return f"{base_url}{path}?{urlencode({'invite': token})}"
