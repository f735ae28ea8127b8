"""LTI attacks (issue 18, item 4 and the LTI part of item 2), each against the real platform of
tests/lti/platform.py over HTTP: roles outliving the launch that gave them, a launch opening other
courses, malformed but platform-signed claims, the registration login URL without client_id, an
oversized body, and learners' names and e-mails kept in our database."""

from __future__ import annotations

import html
import json
import logging
import time

import jwt
import pytest
from django.contrib.auth import get_user_model
from lti_tool.models import LtiMembership, LtiRegistration, LtiUser

from courses.lti.models import LtiIdentity
from courses.lti.selectors import context_key
from courses.models import Course, CourseMembership, MembershipSource, Module, Role
from tests.lti.conftest import Browser
from tests.lti.platform import INSTRUCTOR, LEARNER, TEACHING_ASSISTANT, query_params, with_params

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("lti_settings")]

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
COURSE_A = ("ctx-a", "Course A", "COURSE-A")
COURSE_C = ("ctx-c", "Course C", "COURSE-C")


def _course(platform, context) -> Course:
    return Course.objects.get(lti_context_id=context_key(platform.issuer, context[0]))


def _doors(live_server, course: Course) -> dict[str, str]:
    """A course's report page, API and admin (a module's change page): what staff access opens."""
    module = Module.objects.filter(course=course).first()
    return {
        "report": f"{live_server.url}/reports/{course.code}/",
        "api": f"{live_server.url}/api/courses/{course.code}/modules/",
        "admin": f"{live_server.url}/admin/courses/module/{module.pk}/change/",
    }


def _opens(who: Browser, live_server, course: Course) -> dict[str, bool]:
    return {door: who.get(url).status_code == 200 for door, url in _doors(live_server, course).items()}


def _anonymous(who: Browser, live_server) -> bool:
    resp = who.get(live_server.url + "/admin/")
    return resp.status_code == 302 and "/admin/login/" in resp.headers["Location"]


def _rejected(resp, status: int, text: str, caplog) -> None:
    assert resp.status_code == status, (resp.status_code, resp.text[:800])
    assert "EduPlatform could not open" in resp.text and text in html.unescape(resp.text), resp.text[:800]
    assert any(r.levelno == logging.WARNING and "LTI rejected" in r.getMessage() and text in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]


# --- Roles follow the latest launch of their context ---------------------------------------------------


def test_a_learner_launch_ends_the_staff_role_an_earlier_launch_gave(browser, platform, live_server):
    assert browser.launch(sub="sam", roles=(TEACHING_ASSISTANT,), context=COURSE_A).status_code == 302
    course = _course(platform, COURSE_A)
    membership = CourseMembership.objects.get(course=course)
    assert (membership.role, membership.source) == (Role.TEACHING_ASSISTANT, MembershipSource.LTI)
    assert _opens(browser, live_server, course) == {"report": True, "api": True, "admin": True}

    # The platform now says Sam is a learner here (another browser, e.g. the phone).
    phone = Browser(platform)
    assert phone.launch(sub="sam", roles=(LEARNER,), context=COURSE_A).status_code in (200, 302)

    assert not CourseMembership.objects.filter(course=course).exists()
    # The TA session still open in the first browser no longer opens the course at any door.
    assert _opens(browser, live_server, course) == {"report": False, "api": False, "admin": False}


def test_a_learner_launch_keeps_a_role_added_by_hand(browser, platform, live_server):
    assert browser.launch(sub="sam", roles=(INSTRUCTOR,), context=COURSE_A).status_code == 302
    course = _course(platform, COURSE_A)
    CourseMembership.objects.filter(course=course).update(source=MembershipSource.MANUAL, role=Role.VIEWER)

    assert Browser(platform).launch(sub="sam", roles=(LEARNER,), context=COURSE_A).status_code in (200, 302)
    assert browser.launch(sub="sam", roles=(INSTRUCTOR,), context=COURSE_A).status_code == 302

    membership = CourseMembership.objects.get(course=course)
    assert (membership.role, membership.source) == (Role.VIEWER, MembershipSource.MANUAL)


def test_a_later_launch_changes_the_role_an_earlier_launch_gave(browser, platform):
    assert browser.launch(sub="sam", roles=(INSTRUCTOR,), context=COURSE_A).status_code == 302
    assert browser.launch(sub="sam", roles=(TEACHING_ASSISTANT,), context=COURSE_A).status_code == 302
    assert CourseMembership.objects.get().role == Role.TEACHING_ASSISTANT


@pytest.mark.parametrize("role", [INSTRUCTOR, LEARNER])
def test_a_session_from_a_launch_ends_within_the_ttl(browser, platform, settings, role):
    settings.LTI_SESSION_TTL_S = 3600
    if role == LEARNER:  # a learner's course must exist: an instructor opened it
        assert Browser(platform).launch(sub="teacher", roles=(INSTRUCTOR,)).status_code == 302
    assert browser.launch(sub="someone", roles=(role,)).status_code in (200, 302)
    session = next(c for c in browser.http.cookies if c.name == settings.SESSION_COOKIE_NAME)
    assert session.expires is not None and session.expires <= time.time() + 3600 + 60


def test_a_launch_in_course_c_does_not_open_course_a(browser, platform, live_server):
    assert browser.launch(sub="sam", roles=(TEACHING_ASSISTANT,), context=COURSE_A).status_code == 302
    course_a = _course(platform, COURSE_A)
    assert _opens(browser, live_server, course_a)["admin"]

    assert browser.launch(sub="sam", roles=(INSTRUCTOR,), context=COURSE_C).status_code == 302
    course_c = _course(platform, COURSE_C)

    assert _opens(browser, live_server, course_c) == {"report": True, "api": True, "admin": True}
    assert _opens(browser, live_server, course_a) == {"report": False, "api": False, "admin": False}
    listed = browser.get(f"{live_server.url}/api/courses/").json()
    codes = {c["code"] for c in (listed["results"] if isinstance(listed, dict) else listed)}
    assert codes == {course_c.code}
    # A's role is not taken away (only A's own launches decide it): a launch in A opens A again.
    assert CourseMembership.objects.filter(course=course_a, role=Role.TEACHING_ASSISTANT).exists()
    assert browser.launch(sub="sam", roles=(TEACHING_ASSISTANT,), context=COURSE_A).status_code == 302
    assert _opens(browser, live_server, course_a)["report"]


# --- Claims are checked before anyone is signed in -----------------------------------------------------


@pytest.mark.parametrize(("claims", "text"), [
    ({CLAIM + "custom": "eduplatform_module=1"}, "custom\" must be an object, not a string"),
    ({CLAIM + "resource_link": [{"id": "link-1"}]}, "resource_link\" must be an object, not a list"),
    ({CLAIM + "context": {"id": 42, "title": "x"}}, "context.id\" must be a string, not a number"),
    ({CLAIM + "roles": INSTRUCTOR}, "roles\" must be a list, not a string"),
    ({CLAIM + "custom": {"eduplatform_module": {"nested": 1}}}, "must be strings, numbers or booleans"),
])
def test_a_signed_launch_with_a_claim_of_the_wrong_type_is_refused_and_signs_nobody_in(
        browser, platform, live_server, caplog, claims, text):
    resp = browser.launch(extra_claims=claims)

    _rejected(resp, 400, text, caplog)
    assert _anonymous(browser, live_server)
    assert not Course.objects.exists() and not LtiIdentity.objects.exists()


def test_a_signed_launch_whose_payload_is_a_json_list_is_refused(browser, platform, live_server, caplog):
    auth = browser.login()
    data = platform.authorize(auth)
    body = jwt.decode(data["id_token"], options={"verify_signature": False})
    payload = json.dumps([body]).encode()
    data["id_token"] = jwt.api_jws.encode(payload, platform.keys[-1][0], "RS256",
                                          headers={"kid": jwt.get_unverified_header(data["id_token"])["kid"]})

    _rejected(browser.post_launch(data), 400, "payload must be a JSON object, not list", caplog)
    assert _anonymous(browser, live_server)
    assert not Course.objects.exists()


def test_a_failure_after_sign_in_signs_the_user_out_again(browser, platform, live_server, monkeypatch, caplog):
    from courses.lti import views

    def explode(*args, **kwargs):
        raise RuntimeError("the redirect broke")

    monkeypatch.setattr(views, "HttpResponseRedirect", explode)
    resp = browser.launch()
    assert resp.status_code == 400 and "the error was logged" in resp.text
    assert _anonymous(browser, live_server)


# --- Login URL of a registration, oversized bodies -----------------------------------------------------


def test_the_registration_login_url_works_without_client_id(browser, platform, live_server):
    uuid = LtiRegistration.objects.get(issuer=platform.issuer).uuid
    params = query_params(platform.login_url("user-1"))
    assert params.pop("client_id") == platform.client_id
    url = with_params(f"{live_server.url}/lti/login/{uuid}/", **params, lti1p3_new_window="1")

    resp = browser.get(url)

    assert resp.status_code == 302, resp.text[:800]
    auth = query_params(resp.headers["Location"])
    assert auth["client_id"] == platform.client_id
    assert browser.post_launch(platform.authorize(auth)).status_code == 302


def test_an_oversized_launch_body_is_an_lti_rejection(browser, platform, live_server, caplog):
    resp = browser.http.post(live_server.url + "/lti/launch/", data={"id_token": "x" * (6 * 1024 * 1024),
                                                                     "state": "s"}, timeout=30)
    _rejected(resp, 413, "is larger than", caplog)


def test_a_launch_with_too_many_fields_is_an_lti_rejection(browser, platform, live_server, caplog, settings):
    form = {f"f{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    resp = browser.http.post(live_server.url + "/lti/launch/", data=form, timeout=30)
    _rejected(resp, 413, "form fields", caplog)


# --- Learners' personal data is not kept ---------------------------------------------------------------


def test_a_learner_launch_stores_no_name_email_or_sub(browser, platform, live_server):
    assert browser.launch(sub="teacher", roles=(INSTRUCTOR,)).status_code == 302
    assert Browser(platform).launch(sub="student-7", roles=(LEARNER,)).status_code in (200, 302)

    assert not LtiUser.objects.exists() and not LtiMembership.objects.exists()
    assert not LtiIdentity.objects.filter(sub="student-7").exists()
    assert not get_user_model().objects.filter(email__startswith="student-7").exists()
    # Staff keep a user with their name and e-mail (colleagues and alert e-mails address them).
    assert get_user_model().objects.get(lti_identities__sub="teacher").email == "teacher@uni.example"
