"""Through a real LTI 1.3 launch (lti1p3platform over HTTP): the instructor lands on the course report inside
the LMS, and a held comment's text is not on it while the comments around it are quoted."""

from __future__ import annotations

import pytest

from courses.lti.selectors import context_key
from courses.models import Course, Module, ScreeningStatus
from tests.classifiers.reports.report_data import add_feedback, version
from tests.lti.conftest import browser, platform  # noqa: F401  (fixtures)
from tests.lti.platform import INSTRUCTOR

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _lti_settings(settings):
    settings.LTI_COOKIE_SECURE = False  # plain-HTTP loopback


def test_the_lti_report_quotes_no_held_comment(browser, platform, live_server):  # noqa: F811
    first = browser.launch(roles=(INSTRUCTOR,))
    assert first.status_code == 302
    course = Course.objects.get(lti_context_id=context_key(platform.issuer, "ctx-1"))
    module = Module.objects.get(course=course, lti_resource_link_id="link-1")
    model = version(course)
    add_feedback(course, module, ["negative"] * 6 + ["positive"] * 6, model=model, confidence=0.6,
                 text="ordinary remark")
    add_feedback(course, module, ["negative"], model=model, confidence=0.99, text="HELD-SECRET you idiot",
                 screening=ScreeningStatus.HELD)
    landing = browser.launch(roles=(INSTRUCTOR,)).headers["Location"]
    page = browser.get(live_server.url + landing)
    assert page.status_code == 200 and "frame-ancestors" in page.headers["Content-Security-Policy"]
    assert "ordinary remark" in page.text and "1 comment awaiting review" in page.text
    assert "HELD-SECRET" not in page.text
