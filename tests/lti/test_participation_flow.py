"""Participation credit end to end with the test platform: an instructor links a survey with credit (deep
linking sends a line item), a learner launch of that link opens the survey, the page says what the score
reveals, and the completed response posts one score 1 for that student; without credit nothing is posted."""

from __future__ import annotations

import re

import pytest

from courses.lti import grades, tasks
from courses.lti.models import ParticipationLineItem, ScorePost, ScoreStatus
from courses.models import Module, SurveyResponse
from tests.lti.advantage import Advantage
from tests.lti.conftest import Browser, form_fields
from tests.lti.platform import INSTRUCTOR, LEARNER
from tests.surveys.conftest import build_survey, form_data

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lms(platform, settings, monkeypatch):
    settings.LTI_ALLOW_HTTP_LOOPBACK = True
    # The posting task runs here, in process (tests/lti/test_participation_worker.py runs it on a real worker).
    monkeypatch.setattr(tasks.post_scores_task, "delay", lambda line_item_id: grades.post_scores(line_item_id))
    return Advantage(platform)


def link_survey(browser, platform, live_server, *, anonymous: bool, credit: bool) -> tuple[dict, object]:
    """The instructor launches once (the course exists), then adds a link to the survey by deep linking."""
    assert browser.launch(roles=(INSTRUCTOR,), sub="teacher").status_code == 302
    survey = build_survey(Module.objects.get().course, is_anonymous=anonymous)
    chooser = browser.launch(roles=(INSTRUCTOR,), sub="teacher", resource_link=None,
                             deep_link_return=platform.url + "/deep-link-return")
    assert "Give participation credit" in chooser.text
    token = re.search(r'name="token" value="([^"]+)"', chooser.text).group(1)
    data = {"token": token, "choice": f"survey:{survey.pk}", **({"credit": "1"} if credit else {})}
    back = browser.http.post(live_server.url + "/lti/deep-link/", data=data, timeout=10)
    (item,) = platform.accept_deep_link_response(form_fields(back.text)["JWT"])
    return item, survey


def answer_as(platform, live_server, lms, item, survey, sub: str, lineitem: str | None):
    student = Browser(platform)
    resp = student.launch(roles=(LEARNER,), sub=sub, resource_link=("link-9", survey.title), custom=item["custom"],
                          extra_claims=lms.ags_claim("ctx-1", lineitem=lineitem))
    assert resp.status_code == 302 and resp.headers["Location"] == f"/surveys/{survey.pk}/", resp.text[:300]
    page = student.get(live_server.url + resp.headers["Location"])
    data = form_data(survey)
    data["csrfmiddlewaretoken"] = form_fields(page.text)["csrfmiddlewaretoken"]
    sent = student.http.post(live_server.url + f"/surveys/{survey.pk}/", data=data, allow_redirects=False, timeout=10)
    assert sent.status_code == 303, sent.text[:500]
    return page


def test_a_survey_linked_with_credit_posts_one_score_for_each_student_who_answers(browser, platform, live_server, lms):
    item, survey = link_survey(browser, platform, live_server, anonymous=False, credit=True)
    assert item["lineItem"] == {"scoreMaximum": 1, "label": f"Participation: {survey.title}",
                                "resourceId": f"eduplatform-survey-{survey.pk}", "tag": "eduplatform-participation"}
    assert item["custom"]["eduplatform_credit"] == "1"
    line = lms.create_line_item("ctx-1", {**item["lineItem"], "resourceLinkId": "link-9"})  # what the LMS does

    page = answer_as(platform, live_server, lms, item, survey, "student-7", line["id"])

    assert "Participation credit." in page.text and "never what" not in page.text  # identified survey
    scores = lms.scores_of(line["id"])
    assert list(scores) == ["student-7"] and scores["student-7"]["scoreGiven"] == 1
    assert SurveyResponse.objects.count() == 1 and ScorePost.objects.get().status == ScoreStatus.POSTED
    assert ParticipationLineItem.objects.get().lineitem_url == line["id"]


def test_an_anonymous_survey_says_the_score_shows_that_you_answered_never_what(browser, platform, live_server, lms):
    item, survey = link_survey(browser, platform, live_server, anonymous=True, credit=True)
    line = lms.create_line_item("ctx-1", {**item["lineItem"], "resourceLinkId": "link-9"})
    page = answer_as(platform, live_server, lms, item, survey, "student-7", line["id"])
    assert "It shows that you answered, never what you\n  answered" in page.text
    row = ScorePost.objects.get()  # waits for a batch of the minimum group size (see test_participation.py)
    assert row.status == ScoreStatus.PENDING and lms.score_posts == []


def test_without_credit_no_line_item_and_no_score(browser, platform, live_server, lms):
    item, survey = link_survey(browser, platform, live_server, anonymous=False, credit=False)
    assert "lineItem" not in item and "eduplatform_credit" not in item["custom"]
    page = answer_as(platform, live_server, lms, item, survey, "student-7", None)
    assert "Participation credit" not in page.text
    assert not ParticipationLineItem.objects.exists() and not ScorePost.objects.exists()
    assert lms.score_posts == [] and SurveyResponse.objects.count() == 1
