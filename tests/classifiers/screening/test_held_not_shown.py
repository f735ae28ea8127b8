"""Held means not shown (issue 19, item 2): a held, urgent, pending or removed comment's text reaches no place
an instructor, TA, viewer or annotator can open — report page, report CSVs and API, the feedback, annotation
and prediction APIs, admin lists and change pages, the annotate view, survey answers, the feedback export,
e-mails — while a screener finds held ones in their queue. Counts keep held comments until a decision;
removed ones are not counted."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from classifiers.imports.exports import write_feedback_csv
from classifiers.reports.selectors import module_report
from classifiers.reports.services import scan_all_courses
from courses.models import Answer, ScreeningStatus, SurveyResponse
from tests.classifiers.screening.held_data import SECRETS
from tests.factories import AnnotationFactory, SurveyFactory
from tests.support import token_client

pytestmark = pytest.mark.django_db

COURSE_STAFF = ("instructor", "teaching_assistant", "viewer", "annotator")


def _everything(user, course, items) -> list[tuple[str, str]]:
    """(where, content) of every page, export, API answer and e-mail `user` can reach about the course."""
    client, api = Client(), token_client(user)
    client.force_login(user)
    schema = course.schemas.get(name="sentiment")
    pages = [
        f"/reports/{course.code}/", *(f"/reports/{course.code}/export.csv?chart={c}"
                                      for c in ("modules", "trend", "module-trends")),
        "/admin/courses/feedback/", "/admin/classifiers/labelitem/",
        f"/admin/classifiers/labelitem/?schema={schema.pk}",
        "/admin/classifiers/annotation/", "/admin/courses/surveyresponse/",
        reverse("admin:classifiers_annotate", args=[schema.pk, course.pk]),
        reverse("admin:classifiers_annotate_items", args=[schema.pk, course.pk]) + "?limit=50",
        reverse("admin:classifiers_adjudicate", args=[schema.pk, course.pk]),
    ]
    for item in items.values():
        pages += [f"/admin/courses/feedback/{item.pk}/change/", f"/admin/classifiers/labelitem/{item.pk}/change/"]
    pages += [f"/admin/courses/surveyresponse/{pk}/change/"
              for pk in SurveyResponse.objects.values_list("pk", flat=True)]
    seen = [(page, client.get(page).content.decode(errors="replace")) for page in pages]
    for endpoint in ("feedback/", "feedback/?search=SECRET", "annotations/", "predictions/", "reports/modules/"):
        page = f"/api/courses/{course.code}/{endpoint}"
        seen.append((page, api.get(page).content.decode()))
    seen += [(f"/api/courses/{course.code}/feedback/{item.pk}/", api.get(
        f"/api/courses/{course.code}/feedback/{item.pk}/").content.decode()) for item in items.values()]
    out = io.StringIO()
    write_feedback_csv(course, out)
    seen.append(("export_feedback CSV", out.getvalue()))
    scan_all_courses()
    seen += [(f"mail to {m.to}", f"{m.subject}\n{m.body}") for m in mail.outbox]
    return seen


@pytest.fixture
def answered(course, held_course):
    """The held comment is also a survey answer, and a colleague once labelled it (an import would)."""
    survey = SurveyFactory(course=course, is_anonymous=False)
    question = survey.questions.create(position=1, kind="text", prompt="Anything else?")
    response = SurveyResponse.objects.create(survey=survey, respondent_key="k1", respondent_label="someone")
    Answer.objects.create(response=response, question=question, feedback=held_course[ScreeningStatus.HELD])
    for item in held_course.values():
        AnnotationFactory(feedback=item, labels=["negative"])
    return held_course


@pytest.mark.parametrize("role", COURSE_STAFF)
def test_no_hidden_comment_text_reaches_any_place_course_staff_can_open(request, role, course, answered):
    user = request.getfixturevalue(role)
    seen = _everything(user, course, answered)
    assert any("ordinary comment" in content for _, content in seen)  # the search is not vacuous
    for where, content in seen:
        for secret in SECRETS:
            assert secret not in content, f"{secret} in {where} for {role}"


def test_a_screener_finds_held_and_urgent_comments_in_their_queue_and_nothing_else(client, screener, held_course):
    client.force_login(screener)
    page = client.get(reverse("admin:screening_queue")).content.decode()
    assert "HELD-SECRET" in page and "URGENT-SECRET" in page
    assert "REMOVED-SECRET" not in page and "PENDING-SECRET" not in page and "ordinary comment" not in page
    api = token_client(screener).get("/api/screening/queue/").json()
    assert [i["verdict"] for i in api["items"]] == ["held", "urgent"] and api["waiting"] == 2


def test_counts_keep_held_comments_until_decided_and_drop_removed_ones(course, sentiment, held_course):
    report = module_report(course, sentiment)
    (week1,) = [m for m in report.modules if m.title == "Week 1"]
    # 12 clear + held + urgent + pending; the removed one is not counted.
    assert week1.responses == 15 and report.total_responses == 15
    assert {c.label: c.count for c in week1.distribution} == {"negative": 9, "neutral": 0, "positive": 6}
    assert report.awaiting_review == 3
    quoted = [c.text for comments in week1.comments.values() for c in comments]
    assert quoted and all(text.startswith("ordinary comment") for text in quoted)


def test_the_report_page_says_how_many_comments_await_review(client, instructor, course, held_course):
    client.force_login(instructor)
    page = client.get(f"/reports/{course.code}/").content.decode()
    assert "3 comments awaiting review" in page
    assert token_client(instructor).get(f"/api/courses/{course.code}/reports/modules/").json()["awaiting_review"] == 3
