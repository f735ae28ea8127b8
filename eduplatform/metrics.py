"""/metrics: what an operator scrapes (Prometheus text format, through prometheus_client).

- eduplatform_queue_messages{queue}: messages waiting on each Celery queue (not those a worker holds)
- eduplatform_oldest_unclassified_seconds: how long the longest-waiting comment has been classifiable
- eduplatform_jobs{kind,status}: queued and running jobs
- eduplatform_model_cache_{hits,misses,evictions,checksum_mismatches}_total{host}, ..._bytes{host}: each
  machine's model cache (counted in Redis by the workers: see eduplatform.telemetry)
- eduplatform_model_loads_total{host}, eduplatform_model_evictions_total{host}: models the inference workers loaded
  and dropped beyond MODEL_MEMORY_BUDGET_BYTES (a load per version and drain is expected; a load per comment is not)
- eduplatform_classify_pending_versions: versions with new comments waiting for a drain or being drained
- eduplatform_dependency_up{dependency}: the /healthz checks as seen from this process

Access: a scraper with `Authorization: Bearer <METRICS_TOKEN>`, or a signed-in administrator (the policy table,
Action.VIEW_OPERATIONS). Figures that cost queries are computed at most once per METRICS_CACHE_S (shared cache).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from courses.permissions import Action, authorize
from eduplatform.errors import PermissionRefused
from eduplatform.health import dependency_status

logger = logging.getLogger(__name__)

SNAPSHOT_KEY = "eduplatform:metrics:snapshot"
CACHE_EVENTS = {"hit": "hits", "miss": "misses", "eviction": "evictions", "checksum_mismatch": "checksum_mismatches"}


def celery_queues() -> list[str]:
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values() if "queue" in route}
    return sorted(routed | {settings.CELERY_TASK_DEFAULT_QUEUE})


def queue_lengths() -> dict[str, int]:
    """Waiting messages per queue, through kombu (any broker Celery supports)."""
    from kombu.exceptions import ChannelError

    from eduplatform.celery import app

    lengths = {}
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        for queue in celery_queues():
            try:
                lengths[queue] = conn.default_channel.queue_declare(queue=queue, passive=True).message_count
            except ChannelError:  # never declared, or (Redis) empty: the list key exists only while it holds messages
                lengths[queue] = 0
    return lengths


def job_counts() -> dict[tuple[str, str], int]:
    from django.db.models import Count

    from classifiers.models import ClassificationRun, TrainingRun
    from courses.models import ImportJob
    from eduplatform.jobs import ACTIVE_STATUSES

    counts = {}
    for kind, model in (("training", TrainingRun), ("classification", ClassificationRun), ("import", ImportJob)):
        for status in ACTIVE_STATUSES:
            counts[(kind, str(status))] = 0
        for row in model.objects.filter(status__in=ACTIVE_STATUSES).values("status").annotate(n=Count("pk")):
            counts[(kind, str(row["status"]))] = row["n"]
    return counts


def snapshot() -> dict:
    """The costly figures, shared by every web process for METRICS_CACHE_S (a scrape per replica is one)."""
    data = cache.get(SNAPSHOT_KEY)
    if data is not None:
        return data
    from classifiers.classification.selectors import oldest_unclassified_since

    data = {"taken": time.time()}
    try:
        data["queues"] = queue_lengths()
    except Exception:  # the broker is down: the figure is missing, eduplatform_dependency_up says why
        logger.warning("metrics: could not read the queue lengths", exc_info=True)
    try:
        from classifiers.classification.arrivals import pending_versions

        data["pending_versions"] = pending_versions()
    except Exception:  # Redis is down: the figure is missing this time
        logger.warning("metrics: could not read the pending arrivals", exc_info=True)
    since = oldest_unclassified_since()
    data["oldest_unclassified"] = since.timestamp() if since else None
    data["jobs"] = {f"{kind}|{status}": n for (kind, status), n in job_counts().items()}
    cache.set(SNAPSHOT_KEY, data, settings.METRICS_CACHE_S)
    return data


class PlatformCollector:
    def __init__(self, data: dict, cache_events: dict[str, int], cache_bytes: dict[str, int],
                 dependencies: dict[str, bool], model_events: dict[str, int] | None = None) -> None:
        self.data, self.dependencies = data, dependencies
        self.cache_events, self.cache_bytes = cache_events, cache_bytes
        self.model_events = model_events or {}

    def collect(self) -> Iterator[Metric]:
        if "queues" in self.data:
            queues = GaugeMetricFamily("eduplatform_queue_messages", "Messages waiting on a Celery queue",
                                       labels=["queue"])
            for name, length in sorted(self.data["queues"].items()):
                queues.add_metric([name], length)
            yield queues
        since = self.data["oldest_unclassified"]
        yield GaugeMetricFamily("eduplatform_oldest_unclassified_seconds",
                                "How long the comment waiting longest for its active model has been classifiable",
                                value=max(0.0, time.time() - since) if since else 0.0)
        jobs = GaugeMetricFamily("eduplatform_jobs", "Queued and running jobs", labels=["kind", "status"])
        for key, n in sorted(self.data["jobs"].items()):
            jobs.add_metric(key.split("|"), n)
        yield jobs
        if "pending_versions" in self.data:
            yield GaugeMetricFamily("eduplatform_classify_pending_versions",
                                    "Versions with new comments waiting for (or in) an on-arrival drain",
                                    value=self.data["pending_versions"])
        yield from self._cache_families()
        yield from self._model_families()
        up = GaugeMetricFamily("eduplatform_dependency_up", "1 when this web process reaches the dependency",
                               labels=["dependency"])
        for name, ok in self.dependencies.items():
            up.add_metric([name], 1 if ok else 0)
        yield up

    def _cache_families(self) -> Iterator[Metric]:
        families = {event: CounterMetricFamily(f"eduplatform_model_cache_{name}", f"Model cache {name} per machine",
                                               labels=["host"]) for event, name in CACHE_EVENTS.items()}
        for field, count in sorted(self.cache_events.items()):
            host, _, event = field.partition("|")
            if event in families:
                families[event].add_metric([host], count)
        yield from families.values()
        size = GaugeMetricFamily("eduplatform_model_cache_bytes", "Bytes in a machine's model cache", labels=["host"])
        for host, n in sorted(self.cache_bytes.items()):
            size.add_metric([host], n)
        yield size


    def _model_families(self) -> Iterator[Metric]:
        families = {event: CounterMetricFamily(f"eduplatform_model_{event}s", f"Models workers {verb} per machine",
                                               labels=["host"])
                    for event, verb in (("load", "loaded"), ("eviction", "evicted beyond their memory budget"))}
        for field, count in sorted(self.model_events.items()):
            host, _, event = field.partition("|")
            if event in families:
                families[event].add_metric([host], count)
        yield from families.values()


def render() -> bytes:
    from classifiers import registry
    from classifiers.classification.services import MODEL_EVENTS_KEY
    from eduplatform.telemetry import read

    try:
        events, sizes = read(registry.CACHE_EVENTS_KEY), read(registry.CACHE_BYTES_KEY)
        model_events = read(MODEL_EVENTS_KEY)
    except Exception:  # Redis is down: the cache counters are missing this time
        logger.warning("metrics: could not read the model cache counters", exc_info=True)
        events, sizes, model_events = {}, {}, {}
    registry_ = CollectorRegistry(auto_describe=False)
    registry_.register(PlatformCollector(snapshot(), events, sizes, dependency_status(), model_events))
    return generate_latest(registry_)


def _bearer_token_matches(request: HttpRequest) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = settings.METRICS_TOKEN
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), expected)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not _bearer_token_matches(request):
        if not request.user.is_authenticated:
            response = HttpResponse("sign in as an administrator or send the metrics token\n", status=401,
                                    content_type="text/plain; charset=utf-8")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        try:
            authorize(request.user, Action.VIEW_OPERATIONS, None)
        except PermissionRefused as refusal:
            return HttpResponse(f"{refusal}\n", status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
