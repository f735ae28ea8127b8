"""Issue 18 item 3, small groups leak by subtraction: each attack a curious viewer would try, on the API (and
the page and CSV where the numbers are the same), must recover no group smaller than the minimum."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from classifiers.reports.models import Alert
from classifiers.reports.services import detect_alerts, scan_all_courses
from courses.models import Role, Survey
from tests.classifiers.reports.report_data import MONDAY, add_feedback, version
from tests.factories import MembershipFactory, ModuleFactory, UserFactory
from tests.support import token_client

pytestmark = pytest.mark.django_db
API = "/api/courses/CS101/reports/modules/"
MINIMUM = 5  # the course's minimum group size (the default)


def _day(week: int, days: int = 0) -> str:
    return (MONDAY.date() + timedelta(weeks=week, days=days)).isoformat()


def _rows(body: dict) -> dict[str, dict]:
    return {row["title"]: row for row in body["modules"]}


def _shown_counts(row: dict) -> Counter:
    return Counter({c["label"]: c["count"] for c in row["distribution"]}) if row["shown"] else Counter()


@pytest.fixture
def viewer(course):
    return MembershipFactory(course=course, role=Role.VIEWER, user=UserFactory(username="vera")).user


@pytest.fixture
def three_weeks(course):
    """Weeks 1 and 2: six positive answers each; week 3: one negative answer (a group of one)."""
    model = version(course)
    module = ModuleFactory(course=course, title="Recursion")
    add_feedback(course, module, ["positive"] * 6, week=0, model=model)
    add_feedback(course, module, ["positive"] * 6, week=1, model=model)
    add_feedback(course, module, ["negative"], week=2, model=model, text="the lonely one")
    return module


def test_weeks_one_to_three_minus_weeks_one_to_two_reveals_nothing(client, course, viewer, three_weeks):
    """Before: `since=w1&until=w3` minus `since=w1&until=w2` gave {"negative": 1} for the week the trend hid."""
    api = token_client(viewer)
    # The ranges of the attack are refused, at every door, with a message that says what is allowed.
    client.force_login(viewer)
    page = reverse("reports:course_report", kwargs={"course_code": course.code})
    csv_url = reverse("reports:course_report_csv", kwargs={"course_code": course.code})
    for since, until in ((_day(0), _day(1, 6)), (_day(0), _day(2, 6)), (_day(1), _day(2, 3)), (_day(1), None)):
        params = {"since": since, **({"until": until} if until else {})}
        refused = api.get(API, params)
        assert refused.status_code == 400, refused.content
        assert "one week" in str(refused.json())
        assert client.get(page, params).status_code == 400
        assert client.get(csv_url, {**params, "chart": "modules"}).status_code == 400

    # What is allowed (the whole course, each single week) cannot be differenced into a small group either.
    whole = _rows(api.get(API).json())["Recursion"]
    weeks = [_rows(api.get(API, {"since": _day(w), "until": _day(w, 6)}).json())["Recursion"] for w in range(3)]
    remainder = _shown_counts(whole) - sum((_shown_counts(w) for w in weeks), Counter())
    assert sum(remainder.values()) == 0 or sum(remainder.values()) >= MINIMUM, remainder
    assert not weeks[2]["shown"] and weeks[2]["distribution"] == []
    # The page and the CSV of week 3 say the same, with no number for the module.
    week3 = {"since": _day(2), "until": _day(2, 6)}
    rows = [r for r in csv.DictReader(io.StringIO(client.get(csv_url, {**week3, "chart": "modules"}).content.decode()))
            if r["module"] == "Recursion"]
    assert rows == [{**rows[0], "responses": "", "count": "", "note": "fewer than 5 responses"}]
    assert "the lonely one" not in client.get(page, week3).content.decode()
    # Nor the trend of the whole course: the hidden weeks together hold at least the minimum.
    hidden = [c for c in whole["trend"] if not c["shown"]]
    shown_total = sum(c["labelled"] for c in whole["trend"] if c["shown"])
    assert hidden and whole["labelled"] - shown_total >= MINIMUM


def test_course_total_minus_shown_modules_reveals_nothing(course, viewer):
    """Before: total_responses (16) minus the shown module (12) gave the hidden module's 4."""
    model = version(course)
    add_feedback(course, ModuleFactory(course=course, title="Big"), ["positive"] * 7 + ["negative"] * 5, model=model)
    add_feedback(course, ModuleFactory(course=course, title="Small"), ["negative"] * 4, model=model)
    api = token_client(viewer)
    for params in ({}, {"since": _day(0), "until": _day(0, 6)}):
        body = api.get(API, params).json()
        rows = _rows(body)
        assert rows["Small"]["shown"] is False and rows["Small"]["responses"] is None
        shown = sum(row["responses"] for row in body["modules"] if row["responses"] is not None)
        assert body["total_responses"] == shown == 12
        assert body["labelled_by_humans"] == 0
        average = sum(c["count"] for c in body["course_average"])
        assert average == 12


@pytest.mark.parametrize("stricter", [None, "survey", "floor"])
def test_alert_obeys_the_strictest_minimum(course, sentiment, instructor, settings, stricter):
    """Before: a module whose survey asks for groups of 20 was alerted (and e-mailed) on weeks of 12.

    `None` is the control: the same weeks under the course's minimum of 5 do raise the alert."""
    settings.REPORT_ALERT_RISE, settings.REPORT_ALERT_MIN_COUNT = 0.25, 5
    instructor.email = "ines@uni.example"
    instructor.save()
    model = version(course)
    module = ModuleFactory(course=course, title="Pulse")
    if stricter == "survey":
        Survey.objects.create(course=course, module=module, title="Pulse check", opens_at=MONDAY,
                              closes_at=MONDAY + timedelta(days=30), min_group_size=20)
    elif stricter == "floor":
        settings.MIN_GROUP_SIZE_FLOOR = 20  # a course kept at 5 from before the floor was raised
    add_feedback(course, module, ["negative"] * 2 + ["positive"] * 10, week=0, model=model)
    add_feedback(course, module, ["negative"] * 10 + ["positive"] * 2, week=1, model=model)

    created = detect_alerts(course, sentiment, week=MONDAY.date() + timedelta(weeks=1))
    emailed = scan_all_courses()["emailed"]
    if stricter is None:
        assert [a.module for a in created] == [module] and emailed == 1 and len(mail.outbox) == 1
    else:
        assert created == [] and emailed == 0
        assert not Alert.objects.exists() and mail.outbox == []


def test_an_alert_does_not_publish_a_week_the_trend_hides(course, sentiment, viewer, settings):
    """Week 2 (12 answers) is hidden to protect week 3 (one answer); an alert on week 2 showing its count
    would give back week 3 as "module total - week 1 - alert count" ({"negative": 1})."""
    settings.REPORT_ALERT_RISE, settings.REPORT_ALERT_MIN_COUNT = 0.25, 5
    model = version(course)
    module = ModuleFactory(course=course, title="Loops")
    add_feedback(course, module, ["negative"] * 2 + ["positive"] * 12, week=0, model=model)
    add_feedback(course, module, ["negative"] * 10 + ["positive"] * 2, week=1, model=model)
    add_feedback(course, module, ["negative"], week=2, model=model)
    assert detect_alerts(course, sentiment, week=MONDAY.date() + timedelta(weeks=1))  # the rule itself holds
    body = token_client(viewer).get(API).json()
    row = _rows(body)["Loops"]
    shown = sum(c["labelled"] for c in row["trend"] if c["shown"])
    alerted = sum(a["count"] for a in body["alerts"])
    assert row["labelled"] - shown - alerted not in range(1, MINIMUM)
    hidden_weeks = {c["week"] for c in row["trend"] if not c["shown"]}
    assert not {a["week"] for a in body["alerts"]} & hidden_weeks
