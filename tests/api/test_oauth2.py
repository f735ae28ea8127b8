"""OAuth2 client credentials: a real token request to /api/oauth/token/, then API calls with the Bearer token."""

from __future__ import annotations

import base64

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from courses.api_clients import ApiClientRefused, create_api_client
from courses.models import Role

TOKEN_URL = "/api/oauth/token/"


def request_token(client_id: str, secret: str):
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return APIClient().post(TOKEN_URL, {"grant_type": "client_credentials"}, format="multipart",
                            HTTP_AUTHORIZATION=f"Basic {basic}")


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_client_credentials_token_acts_as_its_service_account(mine, theirs):
    client = create_api_client("lms-sync", name="LMS sync", roles=[(mine.course, Role.INSTRUCTOR)])
    response = request_token(client.application.client_id, client.client_secret)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["token_type"], body["scope"]) == ("Bearer", "api")
    api = bearer(body["access_token"])
    own = api.get(f"/api/courses/{mine.course.code}/feedback/")
    assert own.status_code == 200
    assert [f["id"] for f in own.json()["results"]] == [mine.feedback.pk]
    other = api.get(f"/api/courses/{theirs.course.code}/feedback/")
    assert other.status_code == 404
    assert "secret-theirs" not in other.content.decode()
    assert api.post(f"/api/courses/{mine.course.code}/modules/", {"title": "Week 10"}).status_code == 201


def test_a_viewer_service_account_reads_but_may_not_train(mine):
    client = create_api_client("dashboard", name="Dashboard", roles=[(mine.course, Role.VIEWER)])
    api = bearer(request_token(client.application.client_id, client.client_secret).json()["access_token"])
    assert api.get(f"/api/courses/{mine.course.code}/training-runs/").status_code == 200
    refused = api.post(f"/api/courses/{mine.course.code}/training-runs/", {"schema": mine.schema.pk})
    assert refused.status_code == 403


def test_a_wrong_secret_gets_no_token_and_a_bad_bearer_token_is_401(mine):
    client = create_api_client("lms-sync", name="LMS sync", roles=[(mine.course, Role.INSTRUCTOR)])
    refused = request_token(client.application.client_id, "not-the-secret")
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    assert bearer("made-up").get(f"/api/courses/{mine.course.code}/").status_code == 401


def test_a_token_of_a_deactivated_service_account_is_refused(mine):
    client = create_api_client("lms-sync", name="LMS sync", roles=[(mine.course, Role.INSTRUCTOR)])
    api = bearer(request_token(client.application.client_id, client.client_secret).json()["access_token"])
    assert api.get(f"/api/courses/{mine.course.code}/").status_code == 200
    client.application.user.is_active = False
    client.application.user.save(update_fields=["is_active"])
    refused = api.get(f"/api/courses/{mine.course.code}/")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "this OAuth2 application has no active service account"}


def test_the_service_account_cannot_sign_in_and_unknown_roles_are_refused(course):
    client = create_api_client("lms-sync", name="LMS sync")
    assert not client.application.user.has_usable_password()
    with pytest.raises(ApiClientRefused, match="unknown role"):
        create_api_client("other", name="x", roles=[(course, "owner")])


def test_create_api_client_command_prints_working_credentials(mine, capsys):
    call_command("create_api_client", "lms-sync", "--course", f"{mine.course.code}:teaching_assistant")
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines() if "=" in line)
    token = request_token(lines["client_id"], lines["client_secret"]).json()["access_token"]
    assert bearer(token).get(f"/api/courses/{mine.course.code}/").status_code == 200
