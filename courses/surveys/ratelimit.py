"""Fixed-window rate limits in Redis, so every web worker counts together.

redis-py directly rather than Django's cache API: Django's `incr` costs two round trips (EXISTS, INCR)
and has no atomic "create with expiry"; here all limits of one request are a single pipelined round trip.
"""

from __future__ import annotations

import hashlib
import time

import redis
from django.conf import settings

WINDOW_S = 60

_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:  # created lazily, after gunicorn forks its workers
        _client = redis.Redis.from_url(settings.SURVEY_RATE_LIMIT_REDIS_URL, socket_timeout=2)
    return _client


def allow(*checks: tuple[str, str, int], window_s: int = WINDOW_S) -> bool:
    """Count one hit for each (scope, identity, limit); False when any of them is over its limit."""
    window = int(time.time() // window_s)
    pipe = _redis().pipeline(transaction=False)
    for scope, ident, _ in checks:
        # Hashed so that IP addresses never sit in Redis in clear.
        digest = hashlib.blake2b(ident.encode(), digest_size=12).hexdigest()
        key = f"surveys:rl:{scope}:{digest}:{window}"
        pipe.incr(key)
        pipe.expire(key, window_s + 1, nx=True)
    counts = pipe.execute()[0::2]
    return all(count <= limit for count, (_, _, limit) in zip(counts, checks, strict=True))
