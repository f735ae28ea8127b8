"""Deep linking round trip: the platform accepts our signed response (verified against our JWKS URL)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from courses.models import Course, Module, Survey
from tests.lti.conftest import form_fields
from tests.lti.platform import INSTRUCTOR, LEARNER

pytestmark = pytest.mark.django_db(transaction=True)


def _deep_link_launch(browser, platform, roles=(INSTRUCTOR,)):
    return browser.launch(roles=roles, resource_link=None, deep_link_return=platform.url + "/deep-link-return")


def _submit(browser, live_server, page: str, choice: str) -> requests.Response:
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    return browser.http.post(live_server.url + "/lti/deep-link/", data={"token": token, "choice": choice},
                             allow_redirects=False, timeout=10)


def test_instructor_picks_a_module_report_and_the_platform_accepts_the_signed_item(browser, platform, live_server):
    assert browser.launch().status_code == 302  # creates the course and module "Week 1 feedback"
    module = Module.objects.get()
    now = timezone.now()
    survey = Survey.objects.create(course=module.course, module=module, title="Mid-term survey",
                                   opens_at=now, closes_at=now + timedelta(days=7))

    chooser = _deep_link_launch(browser, platform)
    assert chooser.status_code == 200
    assert "Report for this course" in chooser.text and "Week 1 feedback" in chooser.text
    assert "Mid-term survey" in chooser.text

    response = _submit(browser, live_server, chooser.text, f"module:{module.pk}")
    assert response.status_code == 200
    fields = form_fields(response.text)
    assert f'action="{platform.url}/deep-link-return"' in response.text
    items = platform.accept_deep_link_response(fields["JWT"])  # fetches /lti/jwks/ and verifies

    assert items == [{
        "type": "ltiResourceLink", "title": "Feedback report: Week 1 feedback", "url": live_server.url + "/lti/launch/",
        "custom": {"eduplatform_target": "report", "eduplatform_module": str(module.pk)},
    }]
    survey_item = platform.accept_deep_link_response(
        form_fields(_submit(browser, live_server, chooser.text, f"survey:{survey.pk}").text)["JWT"])
    assert survey_item[0]["custom"] == {"eduplatform_target": "survey", "survey_id": str(survey.pk)}


def test_deep_linking_refuses_items_of_another_course_and_tampered_tokens(browser, platform, live_server):
    other = Course.objects.create(code="OTHER", title="Other")
    foreign = Module.objects.create(course=other, title="Secret module")
    chooser = _deep_link_launch(browser, platform)
    assert "Secret module" not in chooser.text

    assert _submit(browser, live_server, chooser.text, f"module:{foreign.pk}").status_code == 400
    tampered = browser.http.post(live_server.url + "/lti/deep-link/", data={"token": "x:y:z", "choice": "course"},
                                 timeout=10)
    assert tampered.status_code == 403 and "expired or was tampered with" in tampered.text


def test_learners_cannot_deep_link(browser, platform):
    resp = _deep_link_launch(browser, platform, roles=(LEARNER,))
    assert resp.status_code == 403 and "Only instructors" in resp.text
