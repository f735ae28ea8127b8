"""Training runs through the API: start (with config overrides), refusals per field, cancel, broker states."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from classifiers.models import TrainingRun
from courses.models import Role
from eduplatform.celery import app as celery_app
from tests.classifiers.helpers import label_feedback
from tests.factories import MembershipFactory, UserFactory
from tests.support import token_client

URL = "/api/courses/CS101/training-runs/"


@pytest.fixture
def sentiment(sentiment, course):
    """The shared `sentiment` schema with enough labelled feedback to train on."""
    label_feedback(course, sentiment, {"positive": 8, "negative": 8})
    return sentiment


def test_instructor_starts_a_run_with_config_overrides(instructor, sentiment):
    response = token_client(instructor).post(URL, {"schema": sentiment.pk, "config": {"epochs": 3}})
    assert response.status_code == 201, response.content
    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert (run.status, run.course.code, run.actor, run.config["epochs"]) == ("queued", "CS101", instructor, 3)
    assert response.json()["config"]["base_model"] == settings.BASE_MODEL
    assert token_client(instructor).get(f"{URL}{run.pk}/").json()["status"] == "queued"


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.VIEWER])
def test_annotators_and_viewers_may_not_start_or_cancel(course, sentiment, role):
    member = MembershipFactory(course=course, role=role, user=UserFactory()).user
    queued = TrainingRun.objects.create(schema=sentiment, course=course)
    client = token_client(member)
    assert client.get(URL).status_code == 200
    assert client.post(URL, {"schema": sentiment.pk}).status_code == 403
    assert client.post(f"{URL}{queued.pk}/cancel/").status_code == 403
    assert list(TrainingRun.objects.values_list("status", flat=True)) == ["queued"]


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"config": {"epoch": 3}}, "config", "unknown training option(s): epoch"),
    ({"config": {"epochs": "three"}}, "config", "training option 'epochs' must be int, got 'three'"),
    ({"config": {"learning_rate": 3}}, "config", "learning_rate must be between 0 and 1"),
    ({"config": {"base_model": "/srv/models/schema-1/course-9/v1"}}, "config", "is not allowed here"),
])
def test_config_errors_are_400_on_the_config_field(instructor, sentiment, body, field, message):
    response = token_client(instructor).post(URL, {"schema": sentiment.pk, **body})
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert message in response.json()[field][0]
    assert not TrainingRun.objects.exists()


def test_refusals_say_what_to_do(instructor, course, other_course):
    client = token_client(instructor)
    schema = course.schemas.get(name="sentiment")
    label_feedback(course, schema, {"positive": 12, "negative": 3})
    too_few = client.post(URL, {"schema": schema.pk})
    assert too_few.status_code == 400
    assert too_few.json() == {
        "detail": "need at least 2 labels with at least 8 annotated examples each to train, found 1 (positive (12)); "
                  "too few for: negative (3); annotate more feedback first"
    }
    foreign = client.post(URL, {"schema": other_course.schemas.get(name="sentiment").pk})
    assert foreign.status_code == 400 and "schema" in foreign.json()
    institution = client.post(URL, {"schema": schema.pk, "institution": True})
    assert institution.status_code == 403
    assert institution.json() == {"detail": "ines may not train a model institution-wide: only administrators may"}
    assert not TrainingRun.objects.exists()


def test_a_second_run_for_the_scope_is_refused_until_the_first_is_cancelled(instructor, course, sentiment):
    client = token_client(instructor)
    first = TrainingRun.objects.create(schema=sentiment, course=course)
    again = client.post(URL, {"schema": sentiment.pk})
    assert again.status_code == 400
    assert again.json() == {"detail": f"training run {first.pk} is already queued for this scope; "
                                      "wait for it or cancel it"}
    cancelled = client.post(f"{URL}{first.pk}/cancel/")
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    assert "cancelled by ines" in cancelled.json()["error"]
    twice = client.post(f"{URL}{first.pk}/cancel/")
    assert (twice.status_code, twice.json()) == (400, {"detail": f"training run {first.pk} is already cancelled"})


def test_cancelling_a_running_run_asks_the_worker_to_stop(instructor, course, sentiment):
    running = TrainingRun.objects.create(schema=sentiment, course=course, status="running")
    response = token_client(instructor).post(f"{URL}{running.pk}/cancel/")
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["cancel_requested"]) == ("running", True)


@pytest.mark.django_db(transaction=True)
def test_a_started_run_is_on_the_real_broker_and_a_broker_outage_is_503(instructor, sentiment, monkeypatch):
    response = token_client(instructor).post(URL, {"schema": sentiment.pk})
    assert response.status_code == 201, response.content
    run = TrainingRun.objects.get(pk=response.json()["id"])
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queued = [m for m in broker.lrange("training", 0, -1) if run.celery_task_id.encode() in m]
    assert len(queued) == 1
    broker.lrem("training", 0, queued[0])
    assert token_client(instructor).post(f"{URL}{run.pk}/cancel/").status_code == 202

    # The broker goes away: the run is saved, marked failed with the reason, and the client is told to retry.
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", "redis://127.0.0.1:1/0")  # Celery reads it per connection
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    down = token_client(instructor).post(URL, {"schema": sentiment.pk})
    assert down.status_code == 503
    assert "could not be queued: the task broker is unreachable" in down.json()["detail"]
    failed = TrainingRun.objects.exclude(pk=run.pk).get()
    assert failed.status == "failed" and "broker unreachable" in failed.error
