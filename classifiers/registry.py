"""The model store, the one door to model artifacts: publish, look up, load, export and delete versions.

MODEL_STORE is a local directory (the default, `var/models`) or an S3-compatible object store
(`s3://bucket/prefix`, endpoint and credentials from the environment; see classifiers.store.s3). Either way a
version becomes visible only when complete: a local version is renamed into place, an object-store version
exists once its manifest (every file's sha256, uploaded last) does. Workers load object-store versions
through this machine's bounded cache (classifiers.store.cache). Weights are safetensors only: no pickle is
ever loaded from the store.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from classifiers.store.cache import ModelCache, Select, entry_key
from classifiers.store.exports import export_to_directory, zip_stream
from classifiers.store.local import LocalStore
from classifiers.store.manifest import (
    LEGACY_MARKER,
    MANIFEST_FILE,
    ChecksumMismatch,
    Manifest,
    StoreError,
    VersionMissing,
)
from classifiers.store.s3 import S3Store

__all__ = ["MANIFEST_FILE", "BasePartsMissing", "ChecksumMismatch", "StoreError", "VersionMissing"]

logger = logging.getLogger(__name__)

META_FILE = "eduplatform.json"
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
COMPLETE_MARKER = LEGACY_MARKER  # store bookkeeping (like MANIFEST_FILE), never part of an exported model
CACHE_EVENTS_KEY = "eduplatform:metrics:model_cache"  # host|event → count (eduplatform.metrics reads both)
CACHE_BYTES_KEY = "eduplatform:metrics:model_cache_bytes"  # host → bytes held, after each change


# --- which store ----------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _store_for(location: str, addressing_style: str) -> LocalStore | S3Store:
    if location.startswith("s3://"):
        return S3Store(location, addressing_style=addressing_style)
    return LocalStore(Path(location))


def store() -> LocalStore | S3Store:
    return _store_for(str(settings.MODEL_STORE), settings.MODEL_STORE_S3_ADDRESSING_STYLE)


def is_object_store() -> bool:
    return isinstance(store(), S3Store)


def describe_store() -> str:
    """Where versions live, for messages and logs (a path or s3://bucket/prefix: no endpoint, no credentials)."""
    return store().describe()


def _local() -> LocalStore:
    current = store()
    if not isinstance(current, LocalStore):
        raise StoreError(f"MODEL_STORE is an object store ({current.describe()}); its versions have no local "
                         "path: use registry.local_copy()")
    return current


def store_root() -> Path:
    """The local store's directory (a local MODEL_STORE only)."""
    return _local().ensure_root()


def absolute(relpath: str) -> Path:
    """A version's directory in the local store (a local MODEL_STORE only; loaders use local_copy)."""
    return _local().path(relpath)


# --- writing --------------------------------------------------------------------------------------


def version_relpath(schema_id: int, course_id: int | None, number: int) -> str:
    scope = f"course-{course_id}" if course_id else "institution"
    return f"schema-{schema_id}/{scope}/v{number}-{uuid.uuid4().hex[:8]}"


def new_temp_dir() -> Path:
    """A private directory to build a version in: inside a local store (one rename publishes it), or under
    MODEL_CACHE_DIR when the store is remote (the files are uploaded from there)."""
    current = store()
    if isinstance(current, LocalStore):
        return current.new_build_dir()
    builds = Path(settings.MODEL_CACHE_DIR) / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    return builds / f"build-{uuid.uuid4().hex}"


def save_artifacts(build_dir: Path, model, tokenizer, meta: dict) -> None:  # noqa: ANN001 - HF objects
    """save_pretrained + tokenizer + our metadata (label map, metrics, config) into `build_dir`."""
    model.save_pretrained(build_dir, safe_serialization=True)
    tokenizer.save_pretrained(build_dir)
    (build_dir / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    stray = [p.name for p in build_dir.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl")]
    if stray:
        raise RuntimeError(f"refusing to register pickled weights: {', '.join(stray)}")


# --- small versions: a delta against base parts stored once per base model (classifiers.ml.artifacts) ---

BASE_ROOT = "base-models"  # <store>/base-models/<key>/: one base model's weights and tokenizer
DELTA_FILE = "weights.delta.safetensors"  # classifiers.ml.artifacts.DELTA_FILE (not imported here: torch)
# Never shown to transformers.pipeline or ONNX Runtime: the weights before materialize() rebuilds them.
_DELTA_ONLY = (DELTA_FILE,)


class BasePartsMissing(StoreError):
    """A small version's shared base-model parts are not in the store (or are not the ones it was trained on)."""


def ensure_base_parts(base_model: str) -> dict:
    """The store's shared parts of `base_model` (published now if missing): {"key", "path", "digest"}.

    The key names the base model and the digest of its parts' manifest, so two base models, or two revisions
    of one, never share a key; publishing the same parts twice (two trainings at once) is harmless."""
    from classifiers.ml import artifacts

    build = new_temp_dir()
    try:
        artifacts.write_base_parts(base_model, build)
        digest = Manifest.build(build).digest
        key = f"{base_parts_name(base_model)}-{digest[:16]}"
        relpath = f"{BASE_ROOT}/{key}"
        current = store()
        if not current.exists(relpath):
            try:
                current.publish(build, relpath)
            except OSError:  # a local store where another training published the same parts first
                if not current.exists(relpath):
                    raise
        if current.manifest(relpath).digest != digest:
            raise BasePartsMissing(f"the model store's {relpath} differs from {base_model}'s parts: delete it "
                                   "and train again")
    finally:
        discard(build)
    return {"key": key, "path": relpath, "digest": digest, "base_model": base_model}


def base_parts_name(base_model: str) -> str:
    """The name part of `base_model`'s parts' key (`<name>-<digest>`): what is known before they are built."""
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(base_model.rstrip("/")).name)[:60]
    return name or "base"


def base_parts_key_name(relpath: str) -> str:
    """`base-models/<name>-<digest>` → <name>."""
    return relpath.removeprefix(f"{BASE_ROOT}/").rsplit("-", 1)[0]


def stored_base_parts() -> dict[str, float]:
    """Every base model's parts the store holds objects for, complete or not (→ newest change, epoch seconds)."""
    return store().list_children(BASE_ROOT)


def base_parts_of(build_dir: Path) -> dict | None:
    """The base parts a small version built in `build_dir` names (None for full files): read before publishing,
    which removes the build of an object-store version."""
    meta = json.loads((build_dir / META_FILE).read_text())
    return (meta.get("artifacts") or {}).get("base_parts")


def version_base_parts(relpath: str) -> str:
    """The base-parts path a stored version names: "" for a version of full files, or one no longer stored."""
    try:
        meta = read_meta(relpath)
    except (VersionMissing, FileNotFoundError):  # no version there, or one without our metadata file
        return ""
    return ((meta.get("artifacts") or {}).get("base_parts") or {}).get("path", "")


def restore_base_parts(parts: dict) -> bool:
    """Publish a version's base parts again when they went missing (a collection of unused parts that raced
    with the version's registration); True when they had to be. BasePartsMissing when they cannot be the ones
    it was trained on (another revision of the base model, or other parts at their path)."""
    try:
        base_parts_manifest(parts, needed_by="a new version")
        return False
    except BasePartsMissing:
        if store().exists(parts["path"]):
            raise
    again = ensure_base_parts(parts["base_model"])
    if again["digest"] != parts["digest"]:
        raise BasePartsMissing(f"the base model {parts['base_model']} changed since training: its parts are now "
                               f"{again['path']}, not {parts['path']}; train the version again")
    logger.warning("published %s again: it went missing while a version trained on it was registered", again["path"])
    return True


def base_parts_manifest(parts: dict, *, needed_by: str) -> Manifest:
    """The manifest of the shared base parts a small version names, checked against the digest it recorded;
    BasePartsMissing (saying what to do) when they are gone or different."""
    current, relpath = store(), parts["path"]
    try:
        manifest = current.manifest(relpath)
    except VersionMissing:
        raise BasePartsMissing(
            f"{needed_by} needs the shared parts of its base model {parts.get('base_model', '?')} ({relpath}), "
            f"which are missing from the model store ({current.describe()}); restore them or train the version "
            "again") from None
    if manifest.digest != parts["digest"]:
        raise BasePartsMissing(
            f"{needed_by} was trained on other base-model parts than the store's {relpath} (checksums differ); "
            "restore the original parts or train the version again")
    return manifest


@contextmanager
def base_parts_copy(parts: dict, *, needed_by: str) -> Iterator[Path]:
    """A local directory of the shared base parts a small version names, checked as base_parts_manifest does."""
    base_parts_manifest(parts, needed_by=needed_by)
    with local_copy(parts["path"]) as directory:
        yield directory


def save_small_artifacts(build_dir: Path, model, tokenizer, meta: dict):  # noqa: ANN001, ANN201 - HF objects
    """A small version into `build_dir`: the weight delta against `meta["base_model"]`'s shared parts (published
    once per base model), config and metadata. Returns the model the version stores, rebuilt from the delta:
    export and the serving checks must see exactly what will serve."""
    from safetensors.torch import load_file

    from classifiers.ml import artifacts

    parts = ensure_base_parts(meta["base_model"])
    build_dir.mkdir(parents=True, exist_ok=True)
    with base_parts_copy(parts, needed_by="this training") as base_dir:
        base = load_file(base_dir / artifacts.BASE_WEIGHTS)
    artifacts.write_delta(model, base, build_dir)
    (build_dir / META_FILE).write_text(json.dumps({**meta, "artifacts": {"format": artifacts.FORMAT,
                                                                         "base_parts": parts}},
                                                  indent=2, sort_keys=True))
    return artifacts.rebuild_model(build_dir, base)


def finish_small_artifacts(build_dir: Path) -> None:
    """After the ONNX export and its checks: store the int8 model without its word-embedding matrix (rebuilt
    on each machine from the base's) and drop the fp32 ONNX (a version that cannot serve int8 serves torch)."""
    from safetensors.torch import load_file

    from classifiers.ml import artifacts

    (build_dir / ONNX_FILE).unlink(missing_ok=True)
    int8 = build_dir / ONNX_INT8_FILE
    if not int8.is_file():
        return
    parts = json.loads((build_dir / META_FILE).read_text())["artifacts"]["base_parts"]
    with base_parts_copy(parts, needed_by="this training") as base_dir:
        base = load_file(base_dir / artifacts.BASE_WEIGHTS)
    delta, delta_meta = artifacts.read_delta(build_dir)
    artifacts.externalize_embeddings(int8, artifacts.embedding_bytes(delta, delta_meta, base))


def is_small_version(relpath: str) -> bool:
    current = store()
    if isinstance(current, LocalStore):
        return (current.directory(relpath) / DELTA_FILE).is_file()
    return DELTA_FILE in current.manifest(relpath).files


@contextmanager
def _version_files(relpath: str) -> Iterator[Path]:
    current = store()
    if isinstance(current, LocalStore):
        yield current.directory(relpath)
        return
    with cache().checkout(current, relpath) as directory:
        yield directory


@contextmanager
def _materialized(relpath: str, *, full: bool) -> Iterator[Path]:
    """A small version made loadable on this machine (cached like fetched versions, built once)."""
    from classifiers.ml import artifacts

    current = store()
    manifest = current.manifest(relpath)
    parts = json.loads(current.read_file(relpath, META_FILE))["artifacts"]["base_parts"]
    base_size = base_parts_manifest(parts, needed_by=relpath).total_size

    def build(target: Path) -> None:
        with _version_files(relpath) as version_dir, base_parts_copy(parts, needed_by=relpath) as base_dir:
            artifacts.materialize(version_dir, base_dir, target, full=full)

    key = f"{entry_key(relpath, manifest.digest)}+{'full' if full else 'serving'}"
    # Room: the version's files plus at most the base's size (embeddings, tokenizer), twice with full weights.
    need = manifest.total_size + base_size * (2 if full else 1)
    with cache().derived(relpath, key, build, need=need) as directory:
        yield directory


@contextmanager
def stored_files(relpath: str) -> Iterator[Path]:
    """A small version's files as stored (delta, int8 ONNX without its embedding matrix, config, metadata),
    nothing rebuilt or written: the store's directory, or this machine's checked copy of an object-store
    version. For serving its int8 model beside its base's matrix, held once per process
    (classifiers.ml.serving.small_version_predictor; the base parts through base_parts_copy)."""
    with _version_files(relpath) as directory:
        yield directory


def publish(build_dir: Path, relpath: str) -> None:
    """Make a finished build the version at `relpath`, all at once: renamed into a local store, or
    uploaded with its manifest last to an object store (then the build directory is removed)."""
    current = store()
    started = time.perf_counter()
    manifest = current.publish(build_dir, relpath)
    if isinstance(current, S3Store):
        discard(build_dir)
    logger.info("published %s to %s: %d files, %d bytes, %.1f s", relpath, current.describe(),
                len(manifest.files), manifest.total_size, time.perf_counter() - started)


def discard(path: Path | None) -> None:
    """Remove a build directory (never a published version: see delete_version_files)."""
    if path is not None and path.exists():
        shutil.rmtree(path, ignore_errors=True)


def delete_version_files(relpath: str) -> None:
    """Delete a version (or a base model's parts) from the store, then this machine's cached copies; other
    machines are told to drop theirs (and drop any copy whose version is gone when they next check:
    drop_deleted_from_cache)."""
    if not relpath:
        return
    # A version's own files only: shared base parts stay for the versions that need them, until
    # classifiers.training.versions.delete_unused_base_parts finds that none does.
    store().delete(relpath)
    cache().drop(relpath)  # fetched copies, and a small version's rebuilt directory (local stores too)
    if is_object_store():
        _announce_deleted(relpath)


def _announce_deleted(relpath: str) -> None:
    from eduplatform.celery import app

    try:
        app.control.broadcast("drop_model_version", arguments={"relpath": relpath})
    except Exception:  # noqa: BLE001 - the broker is optional here: workers also re-check on their own
        logger.warning("could not tell workers to drop %s from their caches; they will at their next check",
                       relpath, exc_info=True)


# --- reading --------------------------------------------------------------------------------------


def version_exists(relpath: str) -> bool:
    return bool(relpath) and store().exists(relpath)


def stored_versions() -> dict[str, float]:
    """Every version path the store holds objects for, complete or not (→ last change, epoch seconds),
    including a local store's leftover builds; for sweeping what no ModelVersion row names."""
    return store().list_versions()


def read_meta(relpath: str) -> dict:
    return json.loads(store().read_file(relpath, META_FILE))


@contextmanager
def local_copy(relpath: str, *, select: Select | None = None) -> Iterator[Path]:
    """A local directory holding the version's files (only those `select` picks from the names, if given),
    for as long as the block runs: the store's own directory for a local store, else this machine's
    checked copy in the cache (fetched first when missing). Raises VersionMissing, StoreError."""
    current = store()
    if not relpath.startswith(f"{BASE_ROOT}/") and is_small_version(relpath):
        # A small version: rebuilt here from its delta and the base parts; the Hugging Face weights only
        # when the loader wants them (torch on a GPU, exports), else the int8 ONNX and the tokenizer.
        names = ["config.json", META_FILE, "tokenizer.json", "model.safetensors", ONNX_INT8_FILE]
        full = select is None or "model.safetensors" in set(select(names))
        with _materialized(relpath, full=full) as directory:
            yield directory
        return
    if isinstance(current, LocalStore):
        yield current.directory(relpath)
        return
    with cache().checkout(current, relpath, select=select) as directory:
        yield directory


def export_version(relpath: str, destination: Path) -> Path:
    """Copy a version's files (HF format + ONNX) to `destination`, refusing to overwrite files; a small
    version is rebuilt first (full Hugging Face weights, tokenizer, int8 ONNX with its embeddings)."""
    if is_small_version(relpath):
        with local_copy(relpath) as directory:
            return export_to_directory(LocalStore(directory.parent), directory.name, Path(destination))
    return export_to_directory(store(), relpath, Path(destination))


def export_version_zip(relpath: str, *, folder: str) -> Iterator[bytes]:
    """The same files as export_version, as a zip stream whose entries sit under `folder/`.

    The file list is read now, so a missing version fails before the first byte."""
    if store().exists(relpath) and is_small_version(relpath):
        def rebuilt() -> Iterator[bytes]:
            with local_copy(relpath) as directory:  # held (never evicted) while the archive streams
                yield from zip_stream(LocalStore(directory.parent), directory.name, folder=folder)

        return rebuilt()
    return zip_stream(store(), relpath, folder=folder)


# --- the cache ------------------------------------------------------------------------------------


def cache() -> ModelCache:
    return ModelCache(Path(settings.MODEL_CACHE_DIR), settings.MODEL_CACHE_MAX_BYTES, on_event=record_cache_event)


def drop_cached(relpath: str) -> int:
    """Drop this machine's copies of a deleted version (the workers' answer to the deletion broadcast)."""
    return cache().drop(relpath) if is_object_store() else 0


_last_recheck = 0.0


def drop_deleted_from_cache(*, every_s: float | None = None) -> int:
    """Drop cached copies of versions the store no longer has (at most once per `every_s` in a process):
    the safety net for deletion broadcasts a worker missed while it was down."""
    global _last_recheck
    interval = settings.MODEL_CACHE_RECHECK_S if every_s is None else every_s
    if not is_object_store() or time.monotonic() - _last_recheck < interval:
        return 0
    _last_recheck = time.monotonic()
    return cache().drop_missing(store())


def record_cache_event(event: str) -> None:
    """Count a cache event per host in Redis (the shared cache's server), where /metrics reads it: workers
    on other machines than the web process have no scrape endpoint of their own."""
    from eduplatform.telemetry import increment, set_value

    host = socket.gethostname()
    increment(CACHE_EVENTS_KEY, f"{host}|{event}")
    if event != "hit":  # the cache's size changed (or may have): a walk of its entries, rare enough
        set_value(CACHE_BYTES_KEY, host, cache().size())


def check_store() -> None:
    """Raise StoreError when the store cannot be reached (health checks)."""
    store().ping()
