"""/metrics: Prometheus text for a scraper holding the token, or an administrator; figures from the real broker,
the database and the workers' cache counters."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from classifiers import registry
from classifiers.tasks import classify_feedback_task
from classifiers.training.versions import activate_model_version
from courses.surveys.anonymity import RANDOM_ID_FLOOR
from eduplatform.celery import app
from tests.classifiers.helpers import make_version
from tests.classifiers.store.helpers import publish_files, random_files
from tests.factories import FeedbackFactory

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-for-tests"


@pytest.fixture(autouse=True)
def _token(settings):
    settings.METRICS_TOKEN = TOKEN


def _scrape(client, **headers) -> dict[tuple[str, tuple], float]:  # noqa: ANN001
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode()) for sample in family.samples}


@pytest.mark.parametrize(("header", "status"), [(None, 401), ("Bearer wrong", 401), (f"Token {TOKEN}", 401),
                                                (f"Bearer {TOKEN}", 200)])
def test_a_scraper_needs_the_token(client, header, status):
    response = client.get("/metrics", **({"HTTP_AUTHORIZATION": header} if header else {}))
    assert response.status_code == status
    if status == 401:
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"' and b"eduplatform_" not in response.content


def test_without_a_configured_token_no_token_opens_it(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


@pytest.mark.parametrize(("persona", "status"), [
    ("outsider", 403), ("viewer", 403), ("annotator", 403), ("teaching_assistant", 403), ("instructor", 403),
    ("administrator", 200), ("superuser", 200),
])
def test_signed_in_only_administrators_see_it(client, personas, persona, status):
    client.force_login(personas[persona])
    response = client.get("/metrics")
    assert response.status_code == status
    if status == 403:
        assert response.content.decode() == (
            f"{personas[persona].username} may not view the operations metrics institution-wide: "
            "only administrators may\n")


def _queues(metrics: dict) -> dict:
    return {labels[0][1]: value for (name, labels), value in metrics.items() if name == "eduplatform_queue_messages"}


def test_queue_lengths_come_from_the_broker(client):
    app.control.purge()
    # Other tests' on-commit tasks may still sit on the broker: the figure must grow by exactly what we queue.
    before = _queues(_scrape(client))
    cache.clear()  # the scrape's own short cache (METRICS_CACHE_S)
    for _ in range(3):
        classify_feedback_task.apply_async((0, []))  # nobody consumes here: they wait on `inference`
    try:
        metrics = _scrape(client)
    finally:
        app.control.purge()
    queues = _queues(metrics)
    assert set(queues) == {"default", "inference", "training"}
    assert {q: queues[q] - before[q] for q in queues} == {"default": 0, "inference": 3, "training": 0}
    assert metrics[("eduplatform_dependency_up", (("dependency", "broker"),))] == 1


def test_oldest_unclassified_counts_an_anonymous_answer_from_the_end_of_its_day(client, course, sentiment):
    activate_model_version(make_version(sentiment, course=course, number=1), actor=None, classify=False)
    assert _scrape(client)[("eduplatform_oldest_unclassified_seconds", ())] == 0
    FeedbackFactory(course=course, created_at=timezone.now() - timedelta(minutes=10))
    assert 590 < _oldest(client) < 700
    two_days_ago = timezone.localtime() - timedelta(days=2)
    midnight = two_days_ago.replace(hour=0, minute=0, second=0, microsecond=0)
    FeedbackFactory(course=course, id=RANDOM_ID_FLOOR + 7, created_at=midnight)  # answered two days ago
    age = (timezone.now() - (midnight + timedelta(days=1))).total_seconds()
    assert age - 60 < _oldest(client) < age + 60


def _oldest(client) -> float:  # noqa: ANN001
    from django.core.cache import cache

    cache.clear()  # the snapshot is shared for METRICS_CACHE_S
    return _scrape(client)[("eduplatform_oldest_unclassified_seconds", ())]


def test_model_cache_counters_come_from_the_workers(client, s3_model_store):
    relpath = publish_files(random_files({"model.onnx": 1000}))
    for _ in range(3):
        with registry.local_copy(relpath):
            pass
    metrics = _scrape(client)
    per_host = {name: value for (name, labels), value in metrics.items() if name.startswith("eduplatform_model_cache")}
    assert per_host["eduplatform_model_cache_misses_total"] == 1
    assert per_host["eduplatform_model_cache_hits_total"] == 2
    assert 1000 < per_host["eduplatform_model_cache_bytes"] < 5000


def test_a_second_scrape_within_the_window_reuses_the_costly_figures(client, course, sentiment,
                                                                    django_assert_max_num_queries, settings):
    settings.HEALTHZ_CACHE_S = 60
    for number in range(1, 4):
        make_version(sentiment, course=course, number=number)
    _scrape(client)
    with django_assert_max_num_queries(0):
        body = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert re.search(r'^eduplatform_jobs\{kind="training",status="queued"\} 0\.0$', body, re.M)


@pytest.fixture(scope="module")
def tiny_serving_dir(tmp_path_factory):  # noqa: ANN201 - the classifier tests' session fixture, for this module
    from tests.classifiers.classification.serving_helpers import build_serving_dir

    return build_serving_dir(tmp_path_factory.mktemp("serving") / "tiny-sentiment")


def test_model_loads_and_pending_arrivals_are_scraped(client, tiny_serving_dir, django_capture_on_commit_callbacks,
                                                     settings):
    from classifiers.classification import arrivals, services
    from classifiers.classification.services import MODEL_EVENTS_KEY, predictor_for
    from courses.services import create_feedback
    from eduplatform.telemetry import client as redis_client
    from tests.classifiers.classification.serving_helpers import serving_version
    from tests.factories import CourseFactory

    redis_client().delete(MODEL_EVENTS_KEY)
    services._LOADED = None
    settings.MODEL_MEMORY_BUDGET_BYTES = 1  # room for one model: the second load evicts the first
    versions = [serving_version(CourseFactory(code=f"C{i}"), tiny_serving_dir) for i in range(2)]
    for version in versions:
        predictor_for(version)
    with django_capture_on_commit_callbacks(execute=True):
        create_feedback(versions[0].course, text="clear and helpful", source="survey")
    try:
        metrics = _scrape(client)
    finally:
        services._LOADED = None
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("inference")
    totals = {name: value for (name, _), value in metrics.items() if name.startswith("eduplatform_model_")}
    assert totals["eduplatform_model_loads_total"] == 2 and totals["eduplatform_model_evictions_total"] == 1
    assert metrics[("eduplatform_classify_pending_versions", ())] == 1 == arrivals.pending_versions()
