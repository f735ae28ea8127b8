"""/healthz for load balancers: database, broker and model store, answered without secrets; only the database
(by default) takes a web process out of rotation."""

from __future__ import annotations

import pytest

from classifiers import registry
from eduplatform import health

pytestmark = pytest.mark.django_db


def test_everything_reachable_is_200_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok",
                               "checks": {"database": "ok", "broker": "ok", "model_store": "ok"}}
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_dead_broker_is_reported_but_keeps_the_process_in_rotation(client, dead_broker, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded",
                               "checks": {"database": "ok", "broker": "unreachable", "model_store": "ok"}}
    settings.HEALTHZ_REQUIRED = ["database", "broker"]
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "unavailable"


def test_an_unreachable_object_store_is_reported_without_its_address_or_credentials(
    client, s3_model_store, monkeypatch
):
    assert client.get("/healthz").json()["checks"]["model_store"] == "ok"  # the bucket on the loopback S3 server
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    registry._store_for.cache_clear()
    response = client.get("/healthz")
    registry._store_for.cache_clear()
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "model_store": "unreachable"}
    body = response.content.decode()
    assert "127.0.0.1" not in body and "test-key" not in body and "models-" not in body


def test_a_failing_database_takes_the_process_out_of_rotation(client, monkeypatch):
    def refused() -> None:
        raise OSError("connection refused")

    monkeypatch.setitem(health.CHECKS, "database", refused)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unreachable" and "refused" not in response.content.decode()


def test_answers_are_reused_within_the_cache_window(client, settings, dead_broker):
    from eduplatform.celery import app

    settings.HEALTHZ_CACHE_S = 60
    assert client.get("/healthz").json()["checks"]["broker"] == "unreachable"
    # The broker is back, but the answer may be up to 60 s old.
    app.conf.broker_read_url = app.conf.broker_write_url = settings.CELERY_BROKER_URL
    assert client.get("/healthz").json()["checks"]["broker"] == "unreachable"
    health._answers.clear()
    assert client.get("/healthz").json()["checks"]["broker"] == "ok"


def test_only_reads_are_answered(client):
    assert client.post("/healthz").status_code == 405


def test_the_probe_is_not_redirected_to_https_while_pages_are(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/admin/login/").status_code == 301
