"""Report data through the API: the selector's numbers, with its small-group rule, as JSON."""

from __future__ import annotations

import pytest

from courses.models import Role
from tests.classifiers.reports.report_data import add_feedback, version
from tests.factories import MembershipFactory, ModuleFactory, UserFactory
from tests.support import token_client

URL = "/api/courses/CS101/reports/modules/"


@pytest.mark.parametrize("who", ["instructor", "superuser"])
def test_report_numbers_match_the_selector_and_hide_small_groups(course, instructor, who):
    model = version(course)
    big, small = ModuleFactory(course=course, title="Week 1"), ModuleFactory(course=course, title="Week 2")
    add_feedback(course, big, ["positive"] * 6 + ["negative"] * 4, model=model)
    add_feedback(course, small, ["negative"] * 4, model=model)  # 4 responses: below the minimum of 5
    user = instructor if who == "instructor" else UserFactory(username="root", is_superuser=True)
    response = token_client(user).get(URL, {"schema": "sentiment"})
    assert response.status_code == 200, response.content
    rows = {row["title"]: row for row in response.json()["modules"]}
    shown = {share["label"]: share["count"] for share in rows["Week 1"]["distribution"]}
    assert (shown["positive"], shown["negative"]) == (6, 4)
    assert rows["Week 2"]["shown"] is False
    assert rows["Week 2"]["note"] == "fewer than 5 responses"
    assert rows["Week 2"]["distribution"] == []
    assert response.json()["version"]["number"] == 1


def test_a_viewer_may_read_report_data(course):
    viewer = MembershipFactory(course=course, role=Role.VIEWER, user=UserFactory(username="vic")).user
    assert token_client(viewer).get(URL).status_code == 200


def test_report_query_errors_name_the_parameter(course, instructor):
    client = token_client(instructor)
    bad = client.get(URL, {"since": "last week"})
    assert bad.status_code == 400
    assert "since" in bad.json()
    missing = client.get(URL, {"schema": "topic"})
    assert missing.status_code == 404
    assert missing.json() == {"detail": 'Course CS101 has no label schema "topic".'}
