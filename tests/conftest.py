"""Shared fixtures: personas in two courses, their `sentiment` schemas, a clean cache, and a live Celery
worker on the real broker. Plain helpers live in tests/support.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.cache import cache

from classifiers.models import LabelSchema
from courses.models import Role
from tests.factories import CourseFactory, MembershipFactory, UserFactory
from tests.support import ROLES, ROOT, database_url


@pytest.fixture
def course(db):
    return CourseFactory(code="CS101", title="Programming 1")


@pytest.fixture
def other_course(db):
    return CourseFactory(code="HIST200", title="Modern History")


@pytest.fixture
def sentiment(course) -> LabelSchema:
    """The `sentiment` schema every course gets when it is created (negative, neutral, positive)."""
    return course.schemas.get(name="sentiment")


@pytest.fixture
def other_sentiment(other_course) -> LabelSchema:
    return other_course.schemas.get(name="sentiment")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts and ends with an empty cache (this checkout's own Redis DB, CACHE_URL): rate-limit
    counters, LTI nonces and cached reports must not leak from one test into the next; nor the screening
    policy a process keeps for SCREENING_POLICY_CACHE_S (it may name a model version of another test)."""
    from classifiers.screening.screens import forget_policy

    cache.clear()
    forget_policy()
    yield
    cache.clear()
    forget_policy()


@pytest.fixture
def instructor(course):
    return MembershipFactory(course=course, role=Role.INSTRUCTOR, user=UserFactory(username="ines")).user


@pytest.fixture
def annotator(course):
    return MembershipFactory(course=course, role=Role.ANNOTATOR, user=UserFactory(username="anna")).user


@pytest.fixture
def outsider(other_course):
    """Staff of another course: must never see anything of `course`."""
    return MembershipFactory(course=other_course, role=Role.INSTRUCTOR, user=UserFactory(username="otto")).user


@pytest.fixture
def viewer(course):
    return MembershipFactory(course=course, role=Role.VIEWER, user=UserFactory(username="vera")).user


@pytest.fixture
def teaching_assistant(course):
    return MembershipFactory(course=course, role=Role.TEACHING_ASSISTANT, user=UserFactory(username="tara")).user


@pytest.fixture
def administrator(db):
    """Institution administrator: not a superuser, holds `courses.administer_institution`, no course role."""
    user = UserFactory(username="adam")
    grant = Permission.objects.get(codename="administer_institution", content_type__app_label="courses")
    user.user_permissions.add(grant)
    return user


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def screener(db, superuser):
    """A screener (granted by a superuser; staff status comes with the role) with no role in any course."""
    from classifiers.screening.services import grant_screener

    user = UserFactory(username="sam", is_staff=False)
    grant_screener(user, actor=superuser)
    user.refresh_from_db()
    return user


@pytest.fixture
def personas(request, course) -> dict:
    """Every role of the door matrix, by name: each asks its own fixture."""
    return {name: request.getfixturevalue(name) for name in ROLES}


def start_celery_worker(
    log: Path,
    *,
    name: str = "test",
    queues: str = "default,training,inference",
    pool: tuple[str, ...] = ("--concurrency=1", "--pool=prefork"),
    env: dict[str, str] | None = None,
    ready_s: float = 60,
) -> subprocess.Popen:
    """A real `celery worker` subprocess on the real broker, reading the test database, ready to work; its log
    is `log`. Callers stop it (the fixture below does; a test that kills one may start another). `env` adds to
    the worker's environment (settings a test changed); `ready_s` bounds its start (importing transformers
    takes minutes on a loaded 2-core machine)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MODEL_STORE": str(settings.MODEL_STORE),
        "MODEL_CACHE_DIR": str(settings.MODEL_CACHE_DIR),
        "MODEL_CACHE_MAX_BYTES": str(settings.MODEL_CACHE_MAX_BYTES),
        "IMPORT_UPLOAD_DIR": str(settings.IMPORT_UPLOAD_DIR),
        "CONN_MAX_AGE": "0",
        **(env or {}),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "eduplatform",
            "worker",
            "-Q",
            queues,
            *pool,
            "--loglevel=INFO",
            f"--hostname={name}-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + ready_s
    while "ready." not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the Celery worker {name} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    proc.log_path = log  # type: ignore[attr-defined]
    return proc


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A real `celery worker` subprocess on the real broker, reading the test database.

    Tests using it need committed data (transactional_db). Yields the Popen; the log is in tmp_path.
    """
    from eduplatform.celery import app

    app.control.purge()
    proc = start_celery_worker(tmp_path / "worker.log")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(autouse=True)
def _isolated_stores(settings, tmp_path):
    # A fast hasher: the personas' passwords would otherwise cost seconds per test (no security role in tests).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MODEL_STORE = tmp_path / "models"
    settings.MODEL_CACHE_DIR = tmp_path / "model-cache"
    settings.IMPORT_UPLOAD_DIR = tmp_path / "imports"


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> str:
    """A real S3 API (moto in server mode, from PyPI) on loopback for the session: HTTP, signatures, multipart
    uploads and all, in a process of its own. Tests reach it with boto3 exactly as production reaches MinIO."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def s3_model_store(s3_endpoint, settings, monkeypatch, tmp_path) -> str:
    """MODEL_STORE on a fresh bucket of the loopback S3 server; credentials in the environment, as in production
    (subprocesses and workers started by the test inherit them). Yields the store URL."""
    import boto3

    for name, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    bucket = f"models-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    settings.MODEL_STORE = f"s3://{bucket}/eduplatform"
    settings.MODEL_STORE_S3_ADDRESSING_STYLE = "path"
    return settings.MODEL_STORE
