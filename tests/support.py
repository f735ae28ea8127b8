"""Plain helpers shared by test modules (conftest files hold fixtures only and are never imported)."""

from __future__ import annotations

from pathlib import Path

from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent.parent

# The door matrices' personas, each a fixture of tests/conftest.py (the `personas` fixture gives all seven).
ROLES = ("outsider", "viewer", "annotator", "teaching_assistant", "instructor", "administrator", "superuser")


def database_url() -> str:
    """The test database as a DATABASE_URL, for subprocesses (workers, benchmarks) that must read it."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def token_client(user) -> APIClient:  # noqa: ANN001 - a user
    """An API client that authenticates as `user` with a real DRF token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def queued_task_messages(queue: str, task_id: str) -> list[bytes]:
    """The raw messages of task `task_id` waiting on `queue` of the real broker (Redis lists, one per queue),
    read through the Celery app's own connection, so the test looks where the worker would."""
    from eduplatform.celery import app

    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        return [m for m in client.lrange(queue, 0, -1) if task_id.encode() in m]


def drop_task_messages(queue: str, messages: list[bytes]) -> None:
    """Take messages a test put on the broker off it again (no worker should ever run them)."""
    from eduplatform.celery import app

    with app.connection_for_write() as conn:
        for message in messages:
            conn.default_channel.client.lrem(queue, 0, message)
