"""Counters that processes on any machine add to and /metrics reads: one Redis hash per family (the shared
cache's Redis), fields `label|label` → count. Workers run on other machines than the web process, and a
prefork worker's children have no scrape endpoint, so per-process Prometheus registries would lose them."""

from __future__ import annotations

import os
from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=4)
def _client(url: str, pid: int) -> redis.Redis:  # one per process: connections are not shared across fork
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def client() -> redis.Redis:
    return _client(settings.CACHES["default"]["LOCATION"], os.getpid())


def increment(family: str, field: str, amount: int = 1) -> None:
    client().hincrby(family, field, amount)


def set_value(family: str, field: str, value: int) -> None:
    client().hset(family, field, value)


def read(family: str) -> dict[str, int]:
    return {key.decode(): int(value) for key, value in client().hgetall(family).items()}
