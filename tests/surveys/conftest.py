"""Survey fixtures: a survey with two Likert items and two free-text questions, invitations, clients."""

from __future__ import annotations

import pytest
from django.urls import reverse

from courses.models import QuestionKind
from courses.surveys.identity import make_invitation
from tests.factories import QuestionFactory, SurveyFactory

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def build_survey(course, **fields):
    survey = SurveyFactory(course=course, **fields)
    QuestionFactory(survey=survey, position=1, kind=QuestionKind.LIKERT, prompt="The lectures help me learn.",
                    required=True)
    QuestionFactory(survey=survey, position=2, kind=QuestionKind.LIKERT, prompt="The workload is manageable.")
    QuestionFactory(survey=survey, position=3, kind=QuestionKind.TEXT, prompt="What works well?", max_length=500)
    QuestionFactory(survey=survey, position=4, kind=QuestionKind.TEXT, prompt="What should change?",
                    max_length=500)
    return survey


@pytest.fixture
def survey(course):
    return build_survey(course)


def survey_url(survey) -> str:
    return reverse("surveys:survey", kwargs={"survey_id": survey.pk})


def form_data(survey, *, invite: str = "", likert=(4, 2), texts=("The labs", "More examples, mail me at a@b.edu")):
    questions = list(survey.questions.order_by("position"))
    data = {"invite": invite}
    likerts = [q for q in questions if q.kind == QuestionKind.LIKERT]
    free = [q for q in questions if q.kind == QuestionKind.TEXT]
    data.update({f"q{q.pk}": str(v) for q, v in zip(likerts, likert, strict=False) if v is not None})
    data.update({f"q{q.pk}": t for q, t in zip(free, texts, strict=False)})
    return data


def lti_login(client, course, *, sub="student-42", roles=(LEARNER,)):
    session = client.session
    session["lti_identity"] = {"iss": "https://moodle.example.edu", "sub": sub, "course_id": course.pk,
                               "roles": list(roles), "resource_link_id": "rl-1"}
    session.save()


@pytest.fixture
def invite(survey):
    return make_invitation(survey)
