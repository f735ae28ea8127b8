"""Fixtures for the operations endpoints: fresh health answers in every test."""

from __future__ import annotations

import pytest

from eduplatform import health


@pytest.fixture(autouse=True)
def _fresh_health_answers(settings):
    settings.HEALTHZ_CACHE_S = 0
    health._answers.clear()
    yield
    health._answers.clear()


@pytest.fixture
def dead_broker():
    """The Celery app pointed at a port nobody listens on (its connections read the app's configuration)."""
    from eduplatform.celery import app

    real = app.conf.broker_read_url, app.conf.broker_write_url
    app.conf.broker_read_url = app.conf.broker_write_url = "redis://127.0.0.1:9/0"
    yield
    app.conf.broker_read_url, app.conf.broker_write_url = real
