"""Copying a version out of the store: into a directory (manage.py export_model) or as a zip stream (the API).

Only the model's files leave: the store's bookkeeping (manifest, legacy marker) stays behind. Files from an
object store are checked against the manifest on the way out.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

from classifiers.store.local import LocalStore
from classifiers.store.manifest import (
    LEGACY_MARKER,
    MANIFEST_FILE,
    ChecksumMismatch,
    FileEntry,
    sha256_file,
)
from classifiers.store.s3 import S3Store

BOOKKEEPING = (MANIFEST_FILE, LEGACY_MARKER)


def model_files(store: LocalStore | S3Store, relpath: str) -> list[FileEntry] | list[str]:
    """The files an export holds: a local version's directory as it is, an object-store version's manifest."""
    if isinstance(store, LocalStore):
        root = store.directory(relpath)
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                      if p.is_file() and p.name not in BOOKKEEPING)
    manifest = store.manifest(relpath)
    return [manifest.files[name] for name in manifest.names()]


def export_to_directory(store: LocalStore | S3Store, relpath: str, destination: Path) -> Path:
    if destination.exists() and any(destination.iterdir()):
        raise FileExistsError(f"{destination} exists and is not empty")
    files = model_files(store, relpath)
    destination.mkdir(parents=True, exist_ok=True)
    for item in files:
        name = item if isinstance(item, str) else item.name
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        store.download(relpath, name, partial)
        if isinstance(item, FileEntry) and sha256_file(partial) != item.sha256:
            partial.unlink()
            raise ChecksumMismatch(f"{relpath}/{name} differs from its manifest; the export was stopped")
        os.replace(partial, target)
    return destination


def zip_stream(store: LocalStore | S3Store, relpath: str, *, folder: str) -> Iterator[bytes]:
    """The file list is read before the first byte (a missing version fails early); the archive is then
    produced chunk by chunk, since a model is hundreds of megabytes and must never sit in memory."""
    if isinstance(store, LocalStore) and not store.exists(relpath):
        raise FileNotFoundError(f"{relpath} is not in the model store")
    return _zip_chunks(store, relpath, model_files(store, relpath), folder)


def _zip_chunks(store: LocalStore | S3Store, relpath: str, files: list, folder: str) -> Iterator[bytes]:
    sink = _ChunkSink()
    # Stored, not deflated: safetensors and ONNX weights barely compress, and deflate would cost CPU.
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for item in files:
            name = item if isinstance(item, str) else item.name
            digest = hashlib.sha256()
            with archive.open(f"{folder}/{name}", "w", force_zip64=True) as dst:
                for chunk in store.iter_file(relpath, name):
                    digest.update(chunk)
                    dst.write(chunk)
                    yield sink.take()
            if isinstance(item, FileEntry) and digest.hexdigest() != item.sha256:
                # Bytes already sent cannot be taken back: stop, leaving a broken archive rather than a wrong model.
                raise ChecksumMismatch(f"{relpath}/{name} differs from its manifest; the export was stopped")
    yield sink.take()  # the central directory, written on close


class _ChunkSink(io.RawIOBase):
    """A write-only, unseekable file for zipfile (which then writes data descriptors) that we drain."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data

