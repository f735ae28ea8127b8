"""On-arrival batching (classifiers.classification.arrivals) in this process, on the real Redis and Postgres with
a real (tiny) model: a burst loads a model per version, not per comment; a version waits its debounce window;
a claimed version is drained by one drainer, and a dead drainer's claim is drained again from the same id."""

from __future__ import annotations

import json
import time

import pytest
from django.db.models import Count

from classifiers.classification import arrivals, services
from classifiers.classification.services import predictor_for
from classifiers.models import Prediction
from courses.models import Feedback, FeedbackSource
from courses.services import create_feedback
from eduplatform.celery import app
from eduplatform.telemetry import client
from tests.classifiers.classification.serving_helpers import serving_version
from tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_models(settings):
    """No model held from another test (the process's budget cache), no drain message left on the broker."""
    settings.CLASSIFY_DEBOUNCE_S = 0
    settings.INFERENCE_THREADS = 1
    services._LOADED = None
    _purge_inference()
    client().delete(arrivals.DRAINERS_KEY)  # drainers of other tests (killed workers) own nothing here
    yield
    services._LOADED = None
    _purge_inference()


def _arrive(course, n: int, capture) -> list[int]:  # noqa: ANN001
    with capture(execute=True):  # the signal fires on commit, as after a real request
        return [
            create_feedback(course, text=f"the lecture was great {i}", source=FeedbackSource.SURVEY).pk
            for i in range(n)
        ]


def _purge_inference() -> None:
    """app.control.purge() empties only the queues this process declared (`default`)."""
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("inference")


def _queued_tasks() -> list[str]:
    """Names of the tasks waiting on the `inference` queue (read from the broker, not consumed)."""
    with app.connection_for_read() as conn:
        redis = conn.default_channel.client
        return [json.loads(message)["headers"]["task"] for message in reversed(redis.lrange("inference", 0, -1))]


def _once_each(ids: list[int]) -> bool:
    counts = dict(Prediction.objects.filter(feedback_id__in=ids).values_list("feedback").annotate(n=Count("id")))
    return set(counts) == set(ids) and set(counts.values()) == {1}


def test_a_burst_over_many_courses_loads_each_version_once(tiny_serving_dir, django_capture_on_commit_callbacks):
    courses = [CourseFactory(code=f"C{i}") for i in range(3)]
    versions = [serving_version(course, tiny_serving_dir) for course in courses]
    ids = []
    for _ in range(4):  # interleaved arrivals: course 0, 1, 2, 0, 1, 2, …
        for course in courses:
            ids += _arrive(course, 5, django_capture_on_commit_callbacks)
    assert arrivals.pending_versions() == 3

    result = arrivals.drain_arrivals(budget_s=60)
    assert result.classified == 60 and sorted(result.drained) == sorted(v.pk for v in versions)
    assert _once_each(ids)
    assert services.loaded_models().stats.loads == 3  # one per version, not one per comment (60)
    assert arrivals.pending_versions() == 0


def test_a_version_waits_for_its_debounce_window(tiny_serving_dir, django_capture_on_commit_callbacks, settings):
    course = CourseFactory(code="C1")
    serving_version(course, tiny_serving_dir)
    settings.CLASSIFY_DEBOUNCE_S = 30
    ids = _arrive(course, 3, django_capture_on_commit_callbacks)
    assert arrivals.drain_arrivals(budget_s=0.3).classified == 0
    assert not Prediction.objects.filter(feedback_id__in=ids).exists() and arrivals.pending_versions() == 1
    settings.CLASSIFY_DEBOUNCE_S = 0
    assert arrivals.drain_arrivals(budget_s=30).classified == 3 and _once_each(ids)


def test_an_arrival_queues_one_drain_message_not_one_per_comment(django_capture_on_commit_callbacks, tiny_serving_dir):
    course = CourseFactory(code="C1")
    serving_version(course, tiny_serving_dir)
    _purge_inference()
    client().delete(arrivals.DRAIN_QUEUED_KEY)
    _arrive(course, 10, django_capture_on_commit_callbacks)
    assert _queued_tasks() == ["classifiers.tasks.drain_arrivals_task"]


def test_the_per_comment_setting_keeps_the_old_path(django_capture_on_commit_callbacks, tiny_serving_dir, settings):
    settings.CLASSIFY_ON_ARRIVAL = "per-comment"
    course = CourseFactory(code="C1")
    serving_version(course, tiny_serving_dir)
    _purge_inference()
    _arrive(course, 4, django_capture_on_commit_callbacks)
    assert _queued_tasks() == ["classifiers.tasks.classify_feedback_task"] * 4 and arrivals.pending_versions() == 0


def test_a_claimed_version_is_drained_once_and_a_dead_drainers_claim_again(
    tiny_serving_dir, django_capture_on_commit_callbacks, settings
):
    course = CourseFactory(code="C1")
    version = serving_version(course, tiny_serving_dir)
    ids = _arrive(course, 8, django_capture_on_commit_callbacks)
    # A drainer claims the version and dies before writing anything (a SIGKILL runs no finally).
    claimed, _ = arrivals._claim_next(client().zrange(arrivals.DUE_KEY, 0, -1, withscores=True), time.time(), [])
    assert claimed is not None and claimed[:2] == (version.pk, min(ids))
    later = _arrive(course, 2, django_capture_on_commit_callbacks)  # due again, but still claimed
    assert arrivals.drain_arrivals(budget_s=0.5).classified == 0

    client().hset(arrivals.CLAIMS_KEY, version.pk, f"{time.time() - 1}|{min(ids)}|{claimed[2]}")  # lapsed
    result = arrivals.drain_arrivals(budget_s=30)
    assert result.reclaimed == 1 and result.classified == 10 and _once_each(ids + later)
    assert not client().hlen(arrivals.CLAIMS_KEY)


def test_a_version_replaced_meanwhile_is_left_to_its_successor(tiny_serving_dir, django_capture_on_commit_callbacks):
    course = CourseFactory(code="C1")
    old = serving_version(course, tiny_serving_dir)
    ids = _arrive(course, 3, django_capture_on_commit_callbacks)
    serving_version(course, tiny_serving_dir, number=2)  # activated: `old` no longer serves the course
    result = arrivals.drain_arrivals(budget_s=30)
    assert not Prediction.objects.filter(model_version=old).exists()
    assert result.versions == 0 and Feedback.objects.filter(pk__in=ids).count() == 3


def test_models_beyond_the_memory_budget_are_evicted(tiny_serving_dir, settings):
    versions = [serving_version(CourseFactory(code=f"C{i}"), tiny_serving_dir) for i in range(3)]
    settings.MODEL_MEMORY_BUDGET_BYTES = 10 * 1024**3
    for version in versions:
        predictor_for(version).predict(["fine"])
    held = services.loaded_models()
    assert len(held) == 3 and held.stats.evictions == 0
    one = max(entry.size for entry in held._models.values())

    settings.MODEL_MEMORY_BUDGET_BYTES = one + one // 2  # room for one model and a half: the newest stays
    for version in versions:
        predictor_for(version)
    held = services.loaded_models()
    assert held.used_bytes <= settings.MODEL_MEMORY_BUDGET_BYTES or len(held) == 1
    assert list(held)[-1] == (versions[-1].pk, versions[-1].use_int8) and held.stats.evictions >= 1
    assert not arrivals.holds(versions[0])


def test_with_another_live_drainer_each_takes_its_own_versions_until_they_wait_too_long(
    tiny_serving_dir, django_capture_on_commit_callbacks, settings
):
    settings.CLASSIFY_STEAL_AFTER_S = 60
    courses = [CourseFactory(code=f"C{i}") for i in range(8)]
    versions = [serving_version(course, tiny_serving_dir) for course in courses]
    me = arrivals._drainer()
    other = next(  # a live drainer elsewhere owning some of the versions (rendezvous: a fixed split per name)
        name for name in (f"elsewhere:{k}" for k in range(100))
        if 0 < sum(arrivals.owner(v.pk, sorted([me, name])) == me for v in versions) < len(versions)
    )
    mine = {v.pk for v in versions if arrivals.owner(v.pk, sorted([me, other])) == me}
    ids = {course.pk: _arrive(course, 3, django_capture_on_commit_callbacks) for course in courses}
    client().zadd(arrivals.DRAINERS_KEY, {other: time.time()})

    result = arrivals.drain_arrivals(budget_s=2)
    assert set(result.drained) == mine  # the other drainer's versions wait for it
    assert arrivals.pending_versions() == len(versions) - len(mine)
    assert not client().zscore(arrivals.DRAINERS_KEY, me)  # an idle drainer owns nothing

    settings.CLASSIFY_STEAL_AFTER_S = 0  # they have waited too long: taken from a busy (or dead) owner
    result = arrivals.drain_arrivals(budget_s=2)
    assert set(result.drained) == {v.pk for v in versions} - mine
    assert _once_each([i for part in ids.values() for i in part])


def test_a_silent_drainer_owns_nothing(tiny_serving_dir, django_capture_on_commit_callbacks, settings):
    settings.CLASSIFY_STEAL_AFTER_S = 60
    courses = [CourseFactory(code=f"C{i}") for i in range(4)]
    versions = [serving_version(course, tiny_serving_dir) for course in courses]
    for course in courses:
        _arrive(course, 2, django_capture_on_commit_callbacks)
    client().zadd(arrivals.DRAINERS_KEY, {"killed:1": time.time() - arrivals.DRAINER_TTL_S - 1})
    assert sorted(arrivals.drain_arrivals(budget_s=2).drained) == sorted(v.pk for v in versions)
