"""Fixed-window rate limits in the shared (Redis) cache, so every web worker counts together."""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache

WINDOW_S = 60


def allow(scope: str, ident: str, *, limit: int, window_s: int = WINDOW_S) -> bool:
    """Count one hit for `ident`; False once it exceeds `limit` in the current window.

    One round trip in the steady state (INCR); the first hit of a window ADDs the key with its expiry.
    """
    window = int(time.time() // window_s)
    # Hash so that IP addresses never sit in the cache in clear.
    digest = hashlib.blake2b(ident.encode(), digest_size=12).hexdigest()
    key = f"surveys:rl:{scope}:{digest}:{window}"
    try:
        count = cache.incr(key)
    except ValueError:  # missing: first hit in this window (or a race with another worker's add)
        count = 1 if cache.add(key, 1, timeout=window_s + 1) else cache.incr(key)
    return count <= limit
