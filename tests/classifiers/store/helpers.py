"""Versions of random bytes published to the model store, and a look at the bucket behind it."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
from django.conf import settings

from classifiers import registry
from classifiers.store.s3 import parse_url


def publish_files(files: dict[str, bytes], *, number: int = 1) -> str:
    """Publish `files` as a version through the registry (as training does); returns its path."""
    relpath = registry.version_relpath(1, 1, number)
    build = registry.new_temp_dir()
    build.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (build / name).parent.mkdir(parents=True, exist_ok=True)
        (build / name).write_bytes(data)
    registry.publish(build, relpath)
    return relpath


def random_files(sizes: dict[str, int]) -> dict[str, bytes]:
    return {name: os.urandom(size) for name, size in sizes.items()}


def bucket_keys(relpath: str = "") -> list[str]:
    """Every object key under the store's prefix (or one version's), straight from the S3 API."""
    bucket, prefix = parse_url(str(settings.MODEL_STORE))
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="/".join(p for p in (prefix, relpath) if p) + "/")
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def put_object(relpath: str, name: str, data: bytes) -> None:
    bucket, prefix = parse_url(str(settings.MODEL_STORE))
    boto3.client("s3").put_object(Bucket=bucket, Key=f"{prefix}/{relpath}/{name}", Body=data)


def cache_entries(cache_dir: Path | None = None) -> list[str]:
    entries = Path(cache_dir or settings.MODEL_CACHE_DIR) / "entries"
    return sorted(p.name for p in entries.iterdir()) if entries.exists() else []


def cache_events() -> dict[str, int]:
    """The model cache's counters as /metrics reads them (per host and event), summed over hosts."""
    from eduplatform.telemetry import read

    totals: dict[str, int] = {}
    for field, count in read(registry.CACHE_EVENTS_KEY).items():
        event = field.split("|", 1)[1]
        totals[event] = totals.get(event, 0) + count
    return totals
