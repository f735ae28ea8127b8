"""The screening report for administrators (issue 19, item 5): held comments per reason and per course,
decisions and time to decision, under the minimum group rule, with no comment text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from classifiers.screening.models import ScreeningDecision
from classifiers.screening.selectors import screening_report
from classifiers.screening.services import decide
from courses.models import Feedback, ScreeningStatus
from tests.factories import CourseFactory, FeedbackFactory
from tests.support import token_client

pytestmark = pytest.mark.django_db


def _held(course, n: int, reasons: list[str], *, status: str = ScreeningStatus.HELD) -> list[Feedback]:  # noqa: ANN001
    return [FeedbackFactory(course=course, original_text=f"REPORT-SECRET {course.code} {reasons} {i}",
                            screening=status, screening_reasons=reasons) for i in range(n)]


@pytest.fixture
def screened(course, other_course, screener):
    """CS101: 6 held (4 offensive, 2 personal remarks), 5 of them decided; HIST200: 2 held."""
    items = _held(course, 4, ["offensive"]) + _held(course, 2, ["personal_remark"])
    for item in items[:5]:
        offensive = item.screening_reasons == ["offensive"]
        decide(item, action="remove" if offensive else "release", actor=screener,
               reasons=["offensive"] if offensive else [])
    return items + _held(other_course, 2, ["threat"])


def test_counts_per_reason_and_course_with_the_minimum_group_rule(screened, administrator):
    report = screening_report(administrator)
    rows = {row.code: row for row in report.by_course}
    assert (rows["CS101"].held, rows["CS101"].awaiting, rows["CS101"].removed, rows["CS101"].released) == (6, 1, 4, 1)
    assert rows["HIST200"].shown is False and rows["HIST200"].held is None
    assert rows["HIST200"].note == "fewer than 5 held comments"
    assert "(other courses)" not in rows  # 2 < 5: the pool stays hidden too
    assert report.held == 6 and report.awaiting == 1  # sums of what is shown
    reasons = {row.reason: row for row in report.by_reason}
    assert reasons["offensive"].held is None and reasons["offensive"].note == "fewer than 5 comments"  # 4 < 5
    assert reasons["threat"].held is None and reasons["personal_remark"].held is None
    assert report.decisions == 5 and report.median_hours is not None
    assert report.by_action == {}  # 4 removals and 1 release: each fewer than 5


def test_small_courses_are_pooled_when_the_pool_is_large_enough(other_course, administrator):
    third = CourseFactory(code="MATH300")
    _held(other_course, 3, ["threat"])
    _held(third, 3, ["offensive"])
    report = screening_report(administrator)
    rows = {row.code: row for row in report.by_course}
    assert not rows["HIST200"].shown and not rows["MATH300"].shown
    assert rows["(other courses)"].held == 6 and report.held == 6


def test_time_to_decision_counts_from_arrival(course, screener, administrator):
    items = _held(course, 6, ["offensive"])
    for item in items:
        decide(item, action="remove", actor=screener, reasons=["offensive"])
    for decision in ScreeningDecision.objects.all():
        assert decision.arrived_at == Feedback.objects.get(pk=decision.feedback_id).created_at
    report = screening_report(administrator)
    assert report.decisions == 6 and 0 <= report.median_hours < 1
    assert report.by_action == {"Removed (kept for audit, not counted)": 6}


def test_the_report_page_and_api_show_numbers_and_no_text(administrator, screened):
    client = Client()
    client.force_login(administrator)
    page = client.get(reverse("admin:screening_report")).content.decode()
    api = token_client(administrator).get("/api/screening/report/").content.decode()
    for content in (page, api):
        assert "CS101" in content and "REPORT-SECRET" not in content and "fewer than 5 held comments" in content
    tomorrow = (Feedback.objects.first().created_at + timedelta(days=400)).date().isoformat()
    later = token_client(administrator).get(f"/api/screening/report/?since={tomorrow}").json()
    assert later["held"] == 0 and later["by_course"] == []
    bad = client.get(reverse("admin:screening_report") + "?since=yesterday")
    assert bad.status_code == 400 and "since='yesterday' is not a date" in bad.content.decode()
