"""An S3-compatible object store (AWS S3, MinIO, Ceph RGW, ...) through boto3.

Layout: `s3://bucket/prefix/<version path>/<file>` and `<version path>/.manifest.json`. Publishing uploads
every file first and the manifest last; a version exists exactly when its manifest does (S3 and MinIO read
after write consistently), so a writer killed mid-upload leaves objects nobody sees, never a half version.
Deleting removes the manifest first (the version vanishes at once), then its files.

Endpoint and credentials come from the environment through boto3's own chain (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or an instance role, AWS_DEFAULT_REGION), never from our settings.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from classifiers.store.manifest import HASH_CHUNK, MANIFEST_FILE, Manifest, StoreError, VersionMissing, safe_name

ADDRESSING_STYLES = ("auto", "path", "virtual")
MULTIPART_BYTES = 64 * 1024 * 1024  # below this a file is one PUT; above, parts of this size in parallel
DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
_MISSING = {"404", "NoSuchKey", "NotFound"}
VERSION_DEPTH = 3  # schema-<id>/<scope>/v<n>-<random>: registry.version_relpath


def parse_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` → ("bucket", "some/prefix")."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"MODEL_STORE {url!r} is not of the form s3://bucket/prefix")
    return parts.netloc, parts.path.strip("/")


class S3Store:
    kind = "s3"

    def __init__(self, url: str, *, addressing_style: str = "auto") -> None:
        self.bucket, self.prefix = parse_url(url)
        if addressing_style not in ADDRESSING_STYLES:
            raise ValueError(f"S3 addressing style {addressing_style!r} is not one of {', '.join(ADDRESSING_STYLES)}")
        self.addressing_style = addressing_style
        self._clients: dict[tuple[int, bool], object] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def client(self, *, quick: bool = False):  # noqa: ANN201 - botocore's generated S3 client
        """One client per process (boto3 clients are thread-safe, not fork-safe: Celery forks its pool)."""
        key = (os.getpid(), quick)
        with self._lock:
            if key not in self._clients:
                import boto3
                from botocore.config import Config

                # Health checks must answer fast; transfers retry transient errors with backoff.
                config = Config(
                    connect_timeout=2 if quick else 10, read_timeout=5 if quick else 120,
                    retries={"max_attempts": 1 if quick else 5, "mode": "standard"},
                    s3={"addressing_style": self.addressing_style},
                )
                self._clients[key] = boto3.session.Session().client("s3", config=config)
            return self._clients[key]

    def key(self, relpath: str, name: str = "") -> str:
        safe_name(relpath)
        parts = [p for p in (self.prefix, relpath, name and safe_name(name)) if p]
        return "/".join(parts)

    @contextmanager
    def _errors(self, doing: str, relpath: str = "") -> Iterator[None]:
        """botocore's errors as StoreError: the store and what failed, never credentials or signed URLs."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING and relpath:
                raise VersionMissing(f"{relpath} is not in the model store ({self.describe()})") from exc
            raise StoreError(f"model store {self.describe()}: {doing} failed ({code or 'error'})") from exc
        except BotoCoreError as exc:
            raise StoreError(f"model store {self.describe()}: {doing} failed ({type(exc).__name__})") from exc

    def publish(self, build_dir: Path, relpath: str) -> Manifest:
        from boto3.s3.transfer import TransferConfig

        manifest = Manifest.build(build_dir)
        transfer = TransferConfig(multipart_threshold=MULTIPART_BYTES, multipart_chunksize=MULTIPART_BYTES)
        client = self.client()
        with self._errors(f"uploading {relpath}"):
            for name in manifest.names():
                client.upload_file(str(build_dir / name), self.bucket, self.key(relpath, name), Config=transfer)
            # Last: from this request on the version exists, complete.
            client.put_object(Bucket=self.bucket, Key=self.key(relpath, MANIFEST_FILE), Body=manifest.raw,
                              ContentType="application/json")
        return manifest

    def exists(self, relpath: str) -> bool:
        try:
            with self._errors("looking up a version", relpath):
                self.client().head_object(Bucket=self.bucket, Key=self.key(relpath, MANIFEST_FILE))
        except VersionMissing:
            return False
        return True

    def manifest(self, relpath: str) -> Manifest:
        with self._errors(f"reading the manifest of {relpath}", relpath):
            body = self.client().get_object(Bucket=self.bucket, Key=self.key(relpath, MANIFEST_FILE))["Body"]
            raw = body.read()
        return Manifest.parse(raw, where=relpath)

    def delete(self, relpath: str) -> None:
        client = self.client()
        with self._errors(f"deleting {relpath}"):
            client.delete_object(Bucket=self.bucket, Key=self.key(relpath, MANIFEST_FILE))
            keys = [item["Key"] for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.key(relpath) + "/") for item in page.get("Contents", [])]
            for start in range(0, len(keys), DELETE_BATCH):
                batch = [{"Key": key} for key in keys[start:start + DELETE_BATCH]]
                client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def list_versions(self) -> dict[str, float]:
        """Every version path with objects in the store, manifest or not (relpath → newest object's time)."""
        found: dict[str, float] = {}
        start = len(self.prefix) + 1 if self.prefix else 0
        with self._errors("listing versions"):
            pages = self.client().get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + "/" if self.prefix else "")
            for page in pages:
                for item in page.get("Contents", []):
                    parts = item["Key"][start:].split("/")
                    if len(parts) > VERSION_DEPTH:
                        relpath = "/".join(parts[:VERSION_DEPTH])
                        found[relpath] = max(found.get(relpath, 0.0), item["LastModified"].timestamp())
        return found

    def list_children(self, parent: str) -> dict[str, float]:
        """Every `parent/<name>` with objects, manifest or not (→ its newest object's time, epoch seconds)."""
        found: dict[str, float] = {}
        prefix = self.key(parent) + "/"
        with self._errors(f"listing {parent}"):
            for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    child = f"{parent}/{item['Key'][len(prefix):].split('/', 1)[0]}"
                    found[child] = max(found.get(child, 0.0), item["LastModified"].timestamp())
        return found

    def download(self, relpath: str, name: str, destination: Path) -> None:
        with self._errors(f"downloading {relpath}/{name}", relpath):
            self.client().download_file(self.bucket, self.key(relpath, name), str(destination))

    def iter_file(self, relpath: str, name: str) -> Iterator[bytes]:
        with self._errors(f"reading {relpath}/{name}", relpath):
            body = self.client().get_object(Bucket=self.bucket, Key=self.key(relpath, name))["Body"]
            yield from body.iter_chunks(HASH_CHUNK)

    def read_file(self, relpath: str, name: str) -> bytes:
        return b"".join(self.iter_file(relpath, name))

    def ping(self) -> None:
        with self._errors("reaching the bucket"):
            self.client(quick=True).head_bucket(Bucket=self.bucket)
