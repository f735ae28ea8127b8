"""Registering platforms (command and service), the public JWKS with rotation, and framing rules."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from lti_tool.models import Key, LtiDeployment, LtiRegistration

from eduplatform.security import parse_policy

pytestmark = pytest.mark.django_db

ARGS = ["--name", "Uni Moodle", "--issuer", "https://moodle.uni.example", "--client-id", "abc123",
        "--auth-url", "https://moodle.uni.example/mod/lti/auth.php",
        "--token-url", "https://moodle.uni.example/mod/lti/token.php",
        "--keyset-url", "https://moodle.uni.example/mod/lti/certs.php"]


def test_register_platform_command_creates_registration_deployments_and_prints_every_url(capsys):
    call_command("lti_register_platform", *ARGS, "--deployment-id", "1", "--deployment-id", "7",
                 "--base-url", "https://edu.uni.example")
    registration = LtiRegistration.objects.get(issuer="https://moodle.uni.example", client_id="abc123")
    assert set(LtiDeployment.objects.filter(registration=registration, is_active=True)
               .values_list("deployment_id", flat=True)) == {"1", "7"}
    assert registration.policy.allowed_frame_origins() == ["https://moodle.uni.example"]
    out = capsys.readouterr().out
    for url in ("https://edu.uni.example/lti/launch/", "https://edu.uni.example/lti/jwks/",
                f"https://edu.uni.example/lti/login/{registration.uuid}/"):
        assert url in out
    call_command("lti_register_platform", *ARGS)  # idempotent: updates, never duplicates
    assert LtiRegistration.objects.count() == 1


def test_register_platform_command_rejects_a_bad_url_with_exit_code_2():
    bad = [a if a != "https://moodle.uni.example/mod/lti/certs.php" else "ftp://x" for a in ARGS]
    with pytest.raises(CommandError, match="keyset URL 'ftp://x' is not an http"):
        call_command("lti_register_platform", *bad)
    assert not LtiRegistration.objects.exists()


def test_jwks_publishes_every_active_key_during_rotation(client):
    first = client.get("/lti/jwks/").json()["keys"]
    assert len(first) == 1 and first[0]["alg"] == "RS256" and "d" not in first[0]  # never the private part
    call_command("rotate_keys")
    kids = {k["kid"] for k in client.get("/lti/jwks/").json()["keys"]}
    assert len(kids) == 2 and first[0]["kid"] in kids
    Key.objects.filter(pk=Key.objects.order_by("datetime_created").first().pk).update(is_active=False)
    assert first[0]["kid"] not in {k["kid"] for k in client.get("/lti/jwks/").json()["keys"]}


def test_admin_is_never_frameable_even_in_an_lti_session(client, admin_user):
    client.force_login(admin_user)
    session = client.session
    session["lti_frame_ancestors"] = ["https://moodle.uni.example"]
    session.save()
    admin = client.get("/admin/")
    assert admin["X-Frame-Options"] == "DENY"
    assert parse_policy(admin["Content-Security-Policy"])["frame-ancestors"] == "'none'"
    jwks = client.get("/lti/jwks/")
    assert parse_policy(jwks["Content-Security-Policy"])["frame-ancestors"] == "'self' https://moodle.uni.example"
    assert "X-Frame-Options" not in jwks


def test_canvas_config_lists_the_tool_urls(client):
    config = client.get("/lti/canvas.json").json()
    assert config["oidc_initiation_url"] == "http://testserver/lti/login/"
    assert config["public_jwk_url"] == "http://testserver/lti/jwks/"
    assert config["target_link_uri"] == "http://testserver/lti/launch/"
