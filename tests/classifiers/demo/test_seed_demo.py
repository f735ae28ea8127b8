"""`make demo`'s seeding: the demo comments, idempotence, and the student's side (an open survey and its link)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from classifiers.demo.data import COURSE_CODE, demo_comments
from classifiers.demo.survey import SURVEY_TITLE
from classifiers.models import Annotation
from courses.models import Answer, Course, Feedback, FeedbackSource, Question, QuestionKind, Survey, SurveyResponse
from courses.surveys.services import survey_state

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://127\.0\.0\.1:8000(/surveys/\d+/\?invite=\S+)")


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def student_path() -> str:
    out = StringIO()
    call_command("demo_student_link", stdout=out)
    match = LINK.search(out.getvalue())
    assert match, out.getvalue()
    return match.group(1)


def test_demo_comments_read_like_real_feedback_not_templates():
    rows = demo_comments()
    texts = [row["text"] for row in rows]
    assert rows == demo_comments()  # deterministic
    assert len(rows) >= 300 and len({re.sub(r"\W+", " ", t.lower()).strip() for t in texts}) == len(texts)
    assert len({row["module"] for row in rows}) >= 8
    labels = Counter(row["sentiment"] for row in rows)
    assert min(labels.values()) > len(rows) / 6  # all three sentiments, none rare
    topics = Counter(row["topic"] for row in rows)
    assert len(topics) >= 9 and max(topics.values()) < len(rows) / 3  # recurring topics, none dominating
    lengths = sorted(len(t.split()) for t in texts)
    assert lengths[len(lengths) // 10] <= 8 and lengths[-len(lengths) // 10] >= 25  # short and long ones
    # The same words mean different things: negation and mixed comments carry their own label.
    assert any("not bad at all" in t.lower() for t in texts) and any(" but " in t for t in texts)


def test_seed_twice_changes_nothing_and_replaces_an_earlier_demos_comments():
    course = Course.objects.create(code=COURSE_CODE, title="old demo")
    Feedback.objects.create(
        course=course,
        source=FeedbackSource.IMPORT,
        original_text="old template comment",
        redacted_text="old template comment",
        submitted_at=timezone.now(),
        external_id="demo-0001",
    )
    kept = Feedback.objects.create(
        course=course,
        source=FeedbackSource.SURVEY,
        original_text="a survey answer",
        redacted_text="a survey answer",
        submitted_at=timezone.now(),
    )
    first = seed()
    counts = (Feedback.objects.count(), Annotation.objects.count(), Survey.objects.count(), Question.objects.count())
    assert '"replaced_old_demo_comments": 1' in first
    assert not Feedback.objects.filter(external_id="demo-0001").exists()
    assert Feedback.objects.filter(pk=kept.pk).exists()  # students' answers are never the demo's to delete
    assert counts[0] == len(demo_comments()) + 1 and counts[2] == 1
    second = seed()
    assert '"created": 0' in second and '"replaced_old_demo_comments": 0' in second
    assert (
        Feedback.objects.count(),
        Annotation.objects.count(),
        Survey.objects.count(),
        Question.objects.count(),
    ) == counts
    # Personal data in the demo comments is redacted like any other.
    redacted = " ".join(Feedback.objects.filter(course__code=COURSE_CODE).values_list("redacted_text", flat=True))
    assert "[EMAIL]" in redacted and "[PHONE]" in redacted and "@student.example.edu" not in redacted


def test_the_printed_link_lets_a_student_answer_the_open_anonymous_survey(client):
    output = seed()
    survey = Survey.objects.get(course__code=COURSE_CODE, title=SURVEY_TITLE)
    assert survey_state(survey) == "open" and survey.is_anonymous
    assert "demo_student_link" in output
    free_text = survey.questions.get(kind=QuestionKind.TEXT)
    path = student_path()

    page = client.get(path)
    assert page.status_code == 200
    assert free_text.prompt in page.content.decode()
    url = urlsplit(path)
    data = {"invite": parse_qs(url.query)["invite"][0]}  # the form carries the link's token in a hidden field
    data |= {f"q{q.pk}": "4" for q in survey.questions.filter(kind=QuestionKind.LIKERT)}
    data[f"q{free_text.pk}"] = "The k-means lab was too rushed. Write to me at kim.doe@example.org"
    answered = client.post(url.path, data)
    assert answered.status_code == 303, answered.content.decode()[:500]

    response = SurveyResponse.objects.get(survey=survey)
    assert response.user_id is None and response.respondent_label == ""  # anonymous: nobody's name
    stored = Answer.objects.get(response=response, question=free_text).feedback
    assert stored.course.code == COURSE_CODE and stored.source == FeedbackSource.SURVEY
    assert stored.redacted_text == "The k-means lab was too rushed. Write to me at [EMAIL]"
    # Single use: the same link cannot answer again; a fresh link can.
    again = client.post(url.path, data)
    assert again.status_code == 409
    assert Client().get(student_path()).status_code == 200


def test_the_link_is_refused_once_altered_and_the_survey_reopens_when_a_later_demo_finds_it_closed(client):
    seed()
    path = student_path()
    assert client.get(path[:-3] + "xyz").status_code == 403
    survey = Survey.objects.get(course__code=COURSE_CODE)
    survey.opens_at, survey.closes_at = timezone.now() - timedelta(days=300), timezone.now() - timedelta(days=1)
    survey.save()  # months later: the demo's survey has closed
    assert "This survey is closed" in client.get(path).content.decode()
    seed()
    survey.refresh_from_db()
    assert survey_state(survey) == "open" and Survey.objects.count() == 1
    assert client.get(student_path()).status_code == 200
