"""Each gap pylti1p3/django-lti leave open is closed: every rejection is a 4xx page and a log line."""

from __future__ import annotations

import logging
import time

import jwt
import pytest
from lti_tool.models import LtiDeployment

from courses.lti.models import LtiIdentity, PlatformPolicy
from courses.models import Course
from tests.lti.platform import new_key_pair

pytestmark = pytest.mark.django_db(transaction=True)


def _rejected(resp, status: int, text: str, caplog) -> None:
    assert resp.status_code == status, (resp.status_code, resp.text[:800])
    assert text in resp.text
    assert "Traceback" not in resp.text
    assert any(r.levelno == logging.WARNING and "LTI rejected" in r.getMessage() and text in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]


def test_replayed_id_token_is_rejected(browser, platform, caplog):
    auth = browser.login()
    data = platform.authorize(auth)
    assert browser.post_launch(data).status_code == 302

    _rejected(browser.post_launch(data), 403, "already used (replayed launch)", caplog)


def test_fresh_token_reusing_a_consumed_nonce_is_rejected(browser, platform, caplog):
    first = browser.login()
    assert browser.post_launch(platform.authorize(first)).status_code == 302
    second = browser.login()  # a new, valid state ... with the old nonce in a freshly signed token
    # A different token (not a byte-for-byte replay), carrying the consumed nonce.
    data = platform.authorize({**second, "nonce": first["nonce"]}, custom={"attempt": "2"})

    _rejected(browser.post_launch(data), 403, "nonce is unknown or was already used", caplog)


def test_nonce_issued_for_another_login_is_rejected(browser, platform, caplog):
    other = browser.login()
    mine = browser.login()
    data = platform.authorize({**mine, "nonce": other["nonce"]})
    _rejected(browser.post_launch(data), 403, "not issued for this login", caplog)


def test_wrong_audience_is_rejected(browser, platform, caplog):
    resp = browser.launch(extra_claims={"aud": "someone-else", "azp": "someone-else"})
    _rejected(resp, 400, "Registration not found", caplog)


def test_several_audiences_with_a_foreign_authorized_party_are_rejected(browser, platform, caplog):
    resp = browser.launch(extra_claims={"aud": [platform.client_id, "other"], "azp": "other"})
    assert resp.status_code in (400, 403)
    assert not LtiIdentity.objects.exists()
    assert any("LTI rejected" in r.getMessage() for r in caplog.records)


def test_several_audiences_without_authorized_party_are_rejected(browser, platform, caplog):
    claims = {"aud": [platform.client_id, "other"]}
    auth = browser.login()
    data = platform.authorize(auth, extra_claims=claims)
    token = jwt.decode(data["id_token"], options={"verify_signature": False})
    assert token["azp"] == platform.client_id  # lti1p3platform always sets azp; drop it by re-signing
    token.pop("azp")
    data["id_token"] = jwt.encode(token, platform.keys[-1][0], "RS256", headers=_kid_header(data["id_token"]))
    _rejected(browser.post_launch(data), 403, "authorized party None is not our client id", caplog)


def test_several_audiences_with_our_authorized_party_are_accepted(browser, platform):
    resp = browser.launch(extra_claims={"aud": [platform.client_id, "other"], "azp": platform.client_id})
    assert resp.status_code == 302


def test_expired_token_is_rejected(browser, platform, caplog):
    _rejected(browser.launch(expiration=-120), 400, "Signature has expired", caplog)


def test_token_issued_long_ago_is_rejected_even_if_not_expired(browser, platform, caplog):
    old = int(time.time()) - 3600
    resp = browser.launch(expiration=0, extra_claims={"iat": old, "exp": old + 7200})
    _rejected(resp, 400, "too old", caplog)


def test_token_signed_by_an_unknown_key_is_rejected(browser, platform, caplog):
    stranger, _ = new_key_pair()
    _rejected(browser.launch(private_key=stranger), 400, "Unable to find public key", caplog)


def test_token_with_a_known_kid_but_a_forged_signature_is_rejected(browser, platform, caplog):
    auth = browser.login()
    data = platform.authorize(auth)
    body = jwt.decode(data["id_token"], options={"verify_signature": False})
    stranger, _ = new_key_pair()
    data["id_token"] = jwt.encode(body, stranger, "RS256", headers=_kid_header(data["id_token"]))
    _rejected(browser.post_launch(data), 400, "Signature verification failed", caplog)


def test_unknown_deployment_is_recorded_inactive_and_refused_until_activated(browser, platform, caplog):
    _rejected(browser.launch(deployment_id="copied-course"), 403, "is not active", caplog)
    deployment = LtiDeployment.objects.get(deployment_id="copied-course")
    assert deployment.is_active is False
    assert not Course.objects.exists()

    deployment.is_active = True
    deployment.save()
    assert browser.launch(deployment_id="copied-course").status_code == 302


def test_platform_policy_can_accept_new_deployments_automatically(browser, platform, caplog):
    PlatformPolicy.objects.filter(registration__issuer=platform.issuer).update(accept_new_deployments=True)
    assert browser.launch(deployment_id="copied-course").status_code == 302
    assert LtiDeployment.objects.get(deployment_id="copied-course").is_active
    assert any("activated new deployment 'copied-course'" in r.getMessage() for r in caplog.records)


def test_mismatched_state_is_rejected(browser, platform, caplog):
    auth = browser.login()
    data = platform.authorize(auth)
    browser.http.cookies.clear()  # another browser, or one that never had our state cookie
    _rejected(browser.post_launch(data), 403, "does not match this browser", caplog)


def test_state_from_another_login_is_rejected(browser, platform, caplog):
    first = browser.login()
    second = browser.login()
    data = platform.authorize(second)
    data["state"] = first["state"]  # a real state of this browser, but not the token's login
    _rejected(browser.post_launch(data), 403, "not issued for this login", caplog)


def test_platform_key_rotation_is_followed_by_refetching_the_keyset(browser, platform):
    assert browser.launch().status_code == 302
    assert platform.jwks_hits == 1
    assert browser.launch().status_code == 302
    assert platform.jwks_hits == 1  # cached

    platform.rotate_key(keep_old=False)
    assert browser.launch().status_code == 302
    assert platform.jwks_hits == 2  # the new kid was unknown: re-fetched once


@pytest.mark.parametrize("form", [
    {},
    {"state": "state-x"},
    {"id_token": "abc", "state": "state-x"},
    {"id_token": "a.b.c", "state": "state-x"},
])
def test_malformed_launches_get_4xx_pages(browser, platform, live_server, form):
    resp = browser.http.post(live_server.url + "/lti/launch/", data=form, allow_redirects=False, timeout=10)
    assert 400 <= resp.status_code < 500 and "EduPlatform could not open" in resp.text


def test_unexpected_error_during_launch_is_a_4xx_page_and_logged(browser, platform, monkeypatch, caplog):
    from courses.lti import services

    def explode(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services, "staff_user_for", explode)
    resp = browser.launch()
    assert resp.status_code == 400 and "the error was logged" in resp.text and "on fire" not in resp.text
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


def test_login_initiation_errors_are_4xx(browser, platform, live_server):
    http = browser.http
    assert http.get(live_server.url + "/lti/login/", timeout=10).status_code == 400
    resp = http.get(live_server.url + "/lti/login/?iss=https://evil.example&login_hint=x&target_link_uri=x"
                    "&lti1p3_new_window=1", timeout=10)
    assert resp.status_code == 400 and "Could not find registration" in resp.text
    assert http.put(live_server.url + "/lti/login/", timeout=10).status_code == 405


def _kid_header(token: str) -> dict:
    return {"kid": jwt.get_unverified_header(token)["kid"]}
