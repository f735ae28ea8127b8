"""LTI Dynamic Registration against a platform that follows the spec's messages (tests/lti/registration_platform.py):
one URL and one click, then a launch; every refusal is a clear 4xx page with nothing stored."""

from __future__ import annotations

import html
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from lti_tool.models import LtiDeployment, LtiRegistration

from courses.lti.dynamic_registration import issue_registration_token
from courses.lti.models import RegistrationToken
from courses.models import Course, CourseMembership, Role
from tests.lti.conftest import Browser
from tests.lti.platform import INSTRUCTOR, TestPlatform, form_fields
from tests.lti.registration_platform import AGS, DELETE, NRPS, TOOL_CONFIG, DynamicRegistration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.LTI_ALLOW_HTTP_LOOPBACK = True  # the test platform is plain HTTP on 127.0.0.1
    settings.LTI_PLATFORM_TIMEOUT_S = 3


@pytest.fixture
def lms():
    platform = TestPlatform(client_id="", deployment_id="")
    platform.start("http://tool.invalid")  # the tool's URLs come from its registration message
    registration = DynamicRegistration(platform)
    yield registration
    platform.stop()


def registration_link(superuser) -> str:
    _, token = issue_registration_token(actor=superuser, note="test LMS")
    return reverse("lti:register_with_link", kwargs={"token": token})


def open_and_confirm(client, url: str, dr: DynamicRegistration):
    """What the platform does with the pasted URL (open it with its parameters), then the admin's click."""
    page = client.get(dr.registration_url(url))
    assert page.status_code == 200, page.content[:800]
    return page, client.post(url, {"state": form_fields(page.content.decode())["state"]})


def text(response) -> str:
    return html.unescape(response.content.decode())


def nothing_stored() -> bool:
    return not LtiRegistration.objects.exists() and not LtiDeployment.objects.exists()


# --- The whole path ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_url_and_one_click_register_the_tool_and_a_launch_then_works(live_server, superuser):
    platform = TestPlatform(client_id="", deployment_id="").start(live_server.url)
    dr = DynamicRegistration(platform)
    try:
        # The administrator issues a link in admin and pastes it into the platform.
        admin = Client()
        admin.force_login(superuser)
        issued = admin.post(reverse("admin:lti_registrationtoken_issue"), {"note": "Moodle", "valid_days": 7})
        link = issued.context["link"]
        assert link.startswith("http://testserver/lti/register/")
        url = live_server.url + link.removeprefix("http://testserver")
        http = requests.Session()  # the platform's frame: no EduPlatform session
        page = http.get(dr.registration_url(url), timeout=10)
        assert page.status_code == 200 and "Register EduPlatform" in page.text
        assert f"frame-ancestors 'self' {platform.url}" in page.headers["Content-Security-Policy"]
        done = http.post(url, data={"state": form_fields(page.text)["state"]}, timeout=10)  # the one click

        assert done.status_code == 200, done.text[:800]
        assert "courses/lti-registration-close.js" in done.text
        script = http.get(live_server.url + "/static/courses/lti-registration-close.js", timeout=10).text
        assert 'postMessage({subject: "org.imsglobal.lti.close"}, "*")' in script
        registration = LtiRegistration.objects.get()
        assert (registration.issuer, registration.client_id) == (platform.issuer, "dr-client-1")
        assert (registration.auth_url, registration.token_url, registration.keyset_url) == (
            platform.url + "/auth", platform.url + "/token", platform.url + "/jwks")
        assert LtiDeployment.objects.get(registration=registration).deployment_id == "dr-deployment-1"
        assert LtiDeployment.objects.get().is_active
        assert registration.policy.allowed_frame_origins() == [platform.url]
        assert RegistrationToken.objects.get().registration == registration
        sent = dr.registrations[0]
        assert sent["scope"].split() == [NRPS, AGS[0], AGS[3]]
        assert sent["redirect_uris"] == [live_server.url + "/lti/launch/"]
        assert sent["initiate_login_uri"] == live_server.url + "/lti/login/"
        assert sent["jwks_uri"] == live_server.url + "/lti/jwks/"
        assert [m["type"] for m in sent[TOOL_CONFIG]["messages"]] == ["LtiDeepLinkingRequest"]

        # The platform now launches with what was registered, and the launch works end to end.
        resp = Browser(platform).launch(roles=(INSTRUCTOR,))
        assert resp.status_code == 302, resp.text[:800]
        assert CourseMembership.objects.get(course=Course.objects.get()).role == Role.INSTRUCTOR
    finally:
        platform.stop()


@pytest.mark.django_db
def test_a_signed_in_administrator_registers_without_a_link(lms, administrator):
    client = Client()
    client.force_login(administrator)
    _, done = open_and_confirm(client, reverse("lti:register"), lms)
    assert done.status_code == 200, done.content[:800]
    assert LtiRegistration.objects.get().client_id == "dr-client-1"


@pytest.mark.django_db
def test_canvas_gets_its_placements_and_privacy_level(lms, superuser):
    lms.product = "canvas"
    _, done = open_and_confirm(Client(), registration_link(superuser), lms)
    assert done.status_code == 200
    config = lms.registrations[0][TOOL_CONFIG]
    placements = {m["type"]: m.get("placements") for m in config["messages"]}
    assert placements == {"LtiDeepLinkingRequest": ["link_selection", "assignment_selection"],
                          "LtiResourceLinkRequest": ["course_navigation"]}
    assert config["https://canvas.instructure.com/lti/privacy_level"] == "public"


@pytest.mark.django_db
def test_a_platform_that_offers_no_grade_scopes_is_registered_for_rosters_only(lms, superuser):
    lms.overrides["scopes_supported"] = ["openid", NRPS]
    _, done = open_and_confirm(Client(), registration_link(superuser), lms)
    assert done.status_code == 200 and lms.registrations[0]["scope"] == NRPS


# --- Refusals: a clear page, a log line, nothing stored ------------------------------------------------


@pytest.mark.django_db
def test_without_a_link_or_an_administrator_nothing_is_fetched(lms, instructor, caplog):
    for client in (Client(), _logged_in(instructor)):
        with caplog.at_level(logging.WARNING):
            page = client.get(lms.registration_url(reverse("lti:register")))
        assert page.status_code == 403
        assert "needs an EduPlatform administrator" in text(page)
    assert lms.requests == []  # our server fetched nothing for them
    assert "LTI registration rejected (403)" in caplog.text
    assert nothing_stored()


@pytest.mark.django_db
def test_a_used_link_is_refused(lms, superuser):
    url = registration_link(superuser)
    assert open_and_confirm(Client(), url, lms)[1].status_code == 200
    lms.token_used = False
    page = Client().get(lms.registration_url(url))
    assert page.status_code == 403 and "already used" in text(page)
    assert LtiRegistration.objects.count() == 1


@pytest.mark.django_db
def test_a_link_cannot_register_twice_from_one_confirmation_page(lms, superuser):
    url = registration_link(superuser)
    page = Client().get(lms.registration_url(url))
    state = form_fields(page.content.decode())["state"]
    assert Client().post(url, {"state": state}).status_code == 200
    lms.token_used = False
    again = Client().post(url, {"state": state})
    assert again.status_code == 403 and "already used" in text(again)
    assert len(lms.registrations) == 1


@pytest.mark.django_db
def test_an_expired_link_is_refused(lms, superuser):
    url = registration_link(superuser)
    RegistrationToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    page = Client().get(lms.registration_url(url))
    assert page.status_code == 403 and "expired" in text(page)
    assert lms.requests == [] and nothing_stored()


@pytest.mark.django_db
def test_an_unknown_link_is_refused(lms):
    page = Client().get(lms.registration_url(reverse("lti:register_with_link", kwargs={"token": "x" * 43})))
    assert page.status_code == 403 and "not valid" in text(page)


@pytest.mark.django_db
def test_an_issuer_that_does_not_own_the_configuration_url_is_refused(lms, superuser):
    lms.overrides["issuer"] = "https://moodle.other.example"
    page = Client().get(lms.registration_url(registration_link(superuser)))
    assert page.status_code == 403
    assert "names the issuer https://moodle.other.example, whose host does not own" in text(page)
    assert nothing_stored() and lms.registrations == []


@pytest.mark.django_db
def test_a_registration_endpoint_on_another_host_is_refused(lms, superuser):
    lms.overrides["registration_endpoint"] = "https://collector.example/register"
    page = Client().get(lms.registration_url(registration_link(superuser)))
    assert page.status_code == 403 and "is not on the platform's host" in text(page)


@pytest.mark.django_db
def test_plain_http_is_refused_unless_loopback_is_allowed(lms, superuser, settings):
    settings.LTI_ALLOW_HTTP_LOOPBACK = False
    page = Client().get(lms.registration_url(registration_link(superuser)))
    assert page.status_code == 400 and "does not use HTTPS" in text(page)
    assert lms.requests == []
    settings.LTI_ALLOW_HTTP_LOOPBACK = True  # even then only loopback hosts may be plain HTTP
    lms.overrides["token_endpoint"] = "http://moodle.uni.example/token"
    page = Client().get(lms.registration_url(registration_link(superuser)))
    assert page.status_code == 400 and "does not use HTTPS" in text(page)
    assert nothing_stored()


@pytest.mark.django_db
def test_a_platform_error_is_a_clear_page_stores_nothing_and_the_link_can_be_used_again(lms, superuser, caplog):
    url = registration_link(superuser)
    lms.fail_with = 500
    page = Client().get(lms.registration_url(url))
    with caplog.at_level(logging.WARNING):
        done = Client().post(url, {"state": form_fields(page.content.decode())["state"]})
    assert done.status_code == 502
    assert "The platform refused the registration request (HTTP 500): &lt;h1&gt;Internal error" in done.content.decode()
    assert "LTI registration rejected (502)" in caplog.text
    assert nothing_stored() and RegistrationToken.objects.get().used_at is None
    lms.fail_with = None
    assert open_and_confirm(Client(), url, lms)[1].status_code == 200


@pytest.mark.django_db
def test_a_wrong_registration_token_is_refused_by_the_platform_and_nothing_is_stored(lms, superuser):
    url = registration_link(superuser)
    page = Client().get(lms.registration_url(url).replace("reg-tok-1", "forged"))
    done = Client().post(url, {"state": form_fields(page.content.decode())["state"]})
    assert done.status_code == 502 and "HTTP 401" in text(done)
    assert nothing_stored()


@pytest.mark.django_db
@pytest.mark.parametrize(("override", "message"), [
    ({"scopes_supported": ["openid"] + AGS}, "does not offer the scope " + NRPS),
    ({"https://purl.imsglobal.org/spec/lti-platform-configuration": DELETE}, "not an LTI 1.3 platform"),
    ({"id_token_signing_alg_values_supported": ["ES256"]}, "does not list RS256"),
    ({"token_endpoint_auth_methods_supported": ["client_secret_basic"]}, "does not list private_key_jwt"),
    ({"jwks_uri": DELETE}, "\"jwks_uri\" is missing"),
    ({"issuer": 42}, "\"issuer\" is missing"),
])
def test_an_unusable_configuration_is_refused_with_the_reason(lms, superuser, override, message):
    lms.overrides.update(override)
    page = Client().get(lms.registration_url(registration_link(superuser)))
    assert page.status_code in (400, 403) and message in text(page)
    assert nothing_stored()


@pytest.mark.django_db
def test_an_oversized_configuration_is_refused(lms, superuser, settings):
    lms.config_document = '{"issuer": "' + "x" * (settings.LTI_REGISTRATION_MAX_BYTES + 10) + '"}'
    page = Client().get(lms.registration_url(registration_link(superuser)))
    assert page.status_code == 502 and "larger than" in text(page)


@pytest.mark.django_db
def test_the_page_without_platform_parameters_says_where_to_paste_it(superuser):
    page = Client().get(registration_link(superuser))
    assert page.status_code == 400 and "Paste this page" in text(page)


@pytest.mark.django_db
def test_issuing_links_is_for_administrators(client, instructor, administrator):
    client.force_login(instructor)
    assert client.post(reverse("admin:lti_registrationtoken_issue"), {"valid_days": 1}).status_code in (302, 403)
    assert not RegistrationToken.objects.exists()
    client.force_login(administrator)
    assert client.post(reverse("admin:lti_registrationtoken_issue"), {"valid_days": 1}).status_code == 200
    assert RegistrationToken.objects.count() == 1 and len(RegistrationToken.objects.get().digest) == 64


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Fuzzing: malformed input is a 4xx page, never a 500, and stores nothing --------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=20,
)
# Values that never name a host we could reach (no scheme separator), plus a few hostile near-misses.
PARAM = st.text(alphabet=st.characters(blacklist_characters=":"), max_size=300) | st.sampled_from(
    ["", "ftp://x", "http://", "https://", "javascript:alert(1)", "http://[::1", "https://user:pw@127.0.0.1/x",
     "http://127.0.0.1:99999/", "\x00", "https://" + "a" * 3000])


@pytest.mark.django_db
@given(token=st.text(max_size=80).filter(lambda t: "/" not in t and t.strip()), config=PARAM, reg=PARAM,
       state=PARAM)
@hypothesis_settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_registration_requests_are_refused_without_a_500(lms, superuser, token, config, reg, state):
    client = Client()
    for url in (reverse("lti:register_with_link", kwargs={"token": token}), registration_link(superuser)):
        got = client.get(url, {"openid_configuration": config, "registration_token": reg})
        posted = client.post(url, {"state": state})
        assert 400 <= got.status_code < 500 and 400 <= posted.status_code < 500
    assert nothing_stored()


@pytest.mark.django_db
@given(document=JSON | st.dictionaries(st.sampled_from(
    ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint", "scopes_supported",
     "https://purl.imsglobal.org/spec/lti-platform-configuration", "id_token_signing_alg_values_supported"]), JSON))
@hypothesis_settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_platform_configurations_are_refused_without_a_500(lms, superuser, document):
    lms.config_document = json.dumps(document)  # served as it is: null, a list, a string, an object…
    page = Client().get(lms.registration_url(registration_link(superuser)))
    assert page.status_code in (400, 403, 502)
    assert nothing_stored()


@pytest.mark.django_db
def test_the_command_prints_a_one_time_link_and_refuses_a_non_administrator(instructor, capsys):
    from django.core.management import CommandError, call_command

    call_command("lti_registration_link", "--base-url", "https://edu.uni.example/", "--note", "Moodle")
    link = capsys.readouterr().out.strip()
    assert link.startswith("https://edu.uni.example/lti/register/") and RegistrationToken.objects.count() == 1
    with pytest.raises(CommandError, match="only administrators may"):
        call_command("lti_registration_link", "--base-url", "https://x.example", "--as", instructor.username)
    assert RegistrationToken.objects.count() == 1
