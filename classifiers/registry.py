"""The on-disk model store: one directory per version under MODEL_STORE, written atomically.

A version is built in a hidden temporary directory next to its final place and renamed into place
only when complete, so a crash never leaves a half-written version that looks real. Weights are
safetensors only (no pickles are ever loaded from the store).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

META_FILE = "eduplatform.json"
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
COMPLETE_MARKER = ".complete"  # written by publish(); store bookkeeping, not part of an exported model
ZIP_CHUNK = 1 << 20


def store_root() -> Path:
    root = Path(settings.MODEL_STORE)
    root.mkdir(parents=True, exist_ok=True)
    return root


def version_relpath(schema_id: int, course_id: int | None, number: int) -> str:
    scope = f"course-{course_id}" if course_id else "institution"
    return f"schema-{schema_id}/{scope}/v{number}-{uuid.uuid4().hex[:8]}"


def absolute(relpath: str) -> Path:
    path = (store_root() / relpath).resolve()
    if store_root().resolve() not in path.parents:
        raise ValueError(f"model path {relpath!r} is outside MODEL_STORE")
    return path


def new_temp_dir() -> Path:
    """A private build directory inside MODEL_STORE (same file system, so the final rename is atomic)."""
    tmp = store_root() / ".tmp"
    tmp.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="build-", dir=tmp))


def save_artifacts(build_dir: Path, model, tokenizer, meta: dict) -> None:  # noqa: ANN001 - HF objects
    """save_pretrained + tokenizer + our metadata (label map, metrics, config) into `build_dir`."""
    model.save_pretrained(build_dir, safe_serialization=True)
    tokenizer.save_pretrained(build_dir)
    (build_dir / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    stray = [p.name for p in build_dir.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl")]
    if stray:
        raise RuntimeError(f"refusing to register pickled weights: {', '.join(stray)}")


def publish(build_dir: Path, relpath: str) -> Path:
    """Move a finished build into its final place with one rename (atomic on one file system)."""
    final = absolute(relpath)
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(build_dir / COMPLETE_MARKER, "w") as fh:
        fh.write("ok\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(build_dir, final)
    return final


def discard(path: Path | None) -> None:
    if path is not None and path.exists():
        shutil.rmtree(path, ignore_errors=True)


def delete_version_files(relpath: str) -> None:
    if relpath:
        discard(absolute(relpath))


def read_meta(relpath: str) -> dict:
    return json.loads((absolute(relpath) / META_FILE).read_text())


def export_version(relpath: str, destination: Path) -> Path:
    """Copy a version's directory (HF format + ONNX) to `destination`, refusing to overwrite files."""
    destination = Path(destination)
    if destination.exists() and any(destination.iterdir()):
        raise FileExistsError(f"{destination} exists and is not empty")
    shutil.copytree(
        absolute(relpath), destination, dirs_exist_ok=True, ignore=shutil.ignore_patterns(COMPLETE_MARKER)
    )
    return destination


def export_version_zip(relpath: str, *, folder: str) -> Iterator[bytes]:
    """The same files as export_version, as a zip stream whose entries sit under `folder/`.

    The file list is read now, so a missing version fails before the first byte; the archive is then
    produced chunk by chunk, since a model is hundreds of megabytes and must never sit in memory.
    """
    root = absolute(relpath)
    if not root.is_dir():
        raise FileNotFoundError(f"{relpath} is not in the model store")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != COMPLETE_MARKER)
    return _zip_chunks(root, files, folder)


def _zip_chunks(root: Path, files: list[Path], folder: str) -> Iterator[bytes]:
    sink = _ChunkSink()
    # Stored, not deflated: safetensors and ONNX weights barely compress, and deflate would cost CPU.
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for path in files:
            arcname = f"{folder}/{path.relative_to(root).as_posix()}"
            with path.open("rb") as src, archive.open(arcname, "w", force_zip64=True) as dst:
                while chunk := src.read(ZIP_CHUNK):
                    dst.write(chunk)
                    yield sink.take()
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
