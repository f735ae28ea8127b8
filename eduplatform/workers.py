"""Asking the broker whether anybody is listening, so callers can say so instead of hanging."""

from __future__ import annotations

from .celery import app


def workers_consuming(queue: str, *, timeout: float = 1.5) -> list[str]:
    """Names of live workers that consume `queue` (empty when none answer within `timeout`)."""
    try:
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
    except Exception:  # noqa: BLE001 - broker unreachable is the same answer: nobody is listening
        return []
    return sorted(name for name, queues in replies.items() if any(q.get("name") == queue for q in queues))


def start_worker_hint(queue: str) -> str:
    return f"start one with: .venv/bin/celery -A eduplatform worker -Q {queue} --loglevel=info"
