"""What a load balancer asks (`/healthz`) and /metrics reports: can this process reach the database, the
broker and the model store?

Each check's answer is kept for HEALTHZ_CACHE_S in the process, so frequent probes from several balancers
cost one round of checks per process every few seconds, not one per probe. The answer names the checks and
says ok or unreachable: never an error text, host name or URL (the log has those).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    from eduplatform.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def check_model_store() -> None:
    from classifiers import registry

    registry.check_store()


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database, "broker": check_broker, "model_store": check_model_store,
}
_answers: dict[str, tuple[float, bool]] = {}


def dependency_status(*, fresh: bool = False) -> dict[str, bool]:
    """Reachable or not, per dependency (answers up to HEALTHZ_CACHE_S old unless `fresh`)."""
    now = time.monotonic()
    out = {}
    for name, check in CHECKS.items():
        cached = _answers.get(name)
        if fresh or cached is None or now - cached[0] > settings.HEALTHZ_CACHE_S:
            try:
                check()
                ok = True
            except Exception:  # any failure means "unreachable" to the balancer; the reason goes to the log
                logger.warning("health check %s failed", name, exc_info=True)
                ok = False
            _answers[name] = cached = (now, ok)
        out[name] = cached[1]
    return out


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 while every check in HEALTHZ_REQUIRED passes (default: the database, without which this process
    serves nothing); the others are reported ("degraded") but do not take the process out of rotation:
    with the broker or the model store down every web process is equally affected, surveys are still saved
    (the sweep classifies them later), and pulling all of them would turn a partial outage into a total one."""
    status = dependency_status()
    failing = [name for name, ok in status.items() if not ok]
    required_failing = [name for name in failing if name in settings.HEALTHZ_REQUIRED]
    overall = "unavailable" if required_failing else "degraded" if failing else "ok"
    body = {"status": overall, "checks": {name: "ok" if ok else "unreachable" for name, ok in status.items()}}
    return JsonResponse(body, status=503 if required_failing else 200)
