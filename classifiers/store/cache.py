"""Each machine's cache of versions fetched from an object store: bounded, least recently used first out,
shared by every process on the machine.

An entry is one version at one manifest digest (`<version>@<digest>`), holding the files its users asked
for; every file is checked against the manifest's sha256 each time it is handed out (a bad copy is fetched
again) and placed with an atomic rename, so a reader never sees half a file. Processes coordinate with
flock(2) locks, which the kernel drops when a process dies:
- an entry's lock: exclusive while its files are checked or fetched, shared while a process loads from it;
  eviction takes it without waiting and skips entries in use;
- the cache lock: held briefly to count bytes, evict, and reserve room for a download in progress (a
  reservation is a locked file holding its size; one whose owner died is unlocked and discarded).
Lock order is entry, then cache, never the reverse, so two processes cannot wait on each other.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Protocol

from classifiers.store.manifest import MANIFEST_FILE, ChecksumMismatch, FileEntry, Manifest, StoreError, sha256_file

logger = logging.getLogger(__name__)

USED_FILE = ".used"  # its mtime is the entry's last use (LRU order)
RELPATH_FILE = ".relpath"
BUILT_FILE = ".built"  # a derived entry is complete (see ModelCache.derived)
DERIVED_DIR = "model"  # a derived entry's files, apart from the cache's bookkeeping
DOWNLOAD_ATTEMPTS = 3  # a copy that fails its checksum is fetched again, this many times in all
STALE_TMP_S = 6 * 3600  # partial downloads of a killed process are removed after this

Select = Callable[[list[str]], Iterable[str]]
EventSink = Callable[[str], None]  # "hit", "miss", "eviction", "checksum_mismatch", "drop"


class Source(Protocol):
    def manifest(self, relpath: str) -> Manifest: ...
    def download(self, relpath: str, name: str, destination: Path) -> None: ...
    def exists(self, relpath: str) -> bool: ...


def entry_key(relpath: str, digest: str) -> str:
    return f"{relpath.replace('/', '~')}@{digest[:16]}"


@contextmanager
def _flock(path: Path, mode: int) -> Iterator[int]:
    """Lock `path` (created if needed). A lock file unlinked by eviction while we waited is not the lock
    any more: after locking, make sure the path still names the file we hold, else start again."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, mode)
            current = os.stat(path)
        except FileNotFoundError:
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        held = os.fstat(fd)
        if (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino):
            break
        os.close(fd)
    try:
        yield fd
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class ModelCache:
    def __init__(self, root: Path, max_bytes: int, on_event: EventSink | None = None) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.on_event = on_event or (lambda event: None)
        self.entries, self.locks = self.root / "entries", self.root / "locks"
        self.tmp, self.reservations = self.root / "tmp", self.root / "reservations"

    def _ready(self) -> None:
        for folder in (self.entries, self.locks, self.tmp, self.reservations):
            folder.mkdir(parents=True, exist_ok=True)

    def _event(self, name: str) -> None:
        try:
            self.on_event(name)
        except Exception:  # counting must never stop serving; the reason is logged
            logger.warning("could not record model cache event %r", name, exc_info=True)

    @contextmanager
    def checkout(self, store: Source, relpath: str, *, select: Select | None = None) -> Iterator[Path]:
        """The local directory of `relpath` with (at least) the selected files, verified; held for reading
        (not evicted) until the block ends. Raises VersionMissing when the store has no such version."""
        self._ready()
        manifest = store.manifest(relpath)  # every checkout asks the store: a deleted version is never served
        wanted = sorted(set(select(manifest.names())) if select else manifest.names())
        unknown = [name for name in wanted if name not in manifest.files]
        if unknown:
            raise StoreError(f"{relpath} has no file {', '.join(unknown)}")
        key = entry_key(relpath, manifest.digest)
        entry, lock = self.entries / key, self.locks / f"{key}.lock"
        fetched = False
        for _ in range(DOWNLOAD_ATTEMPTS):
            # Readers share the entry (several processes load one version at once); only a fill is exclusive.
            with _flock(lock, fcntl.LOCK_SH):
                if all(self._intact(entry / name, manifest.files[name]) for name in wanted):
                    (entry / USED_FILE).touch()
                    self._event("miss" if fetched else "hit")
                    yield entry
                    return
            with _flock(lock, fcntl.LOCK_EX):
                fetched = self._fill(store, relpath, manifest, entry, key, wanted) or fetched
        raise StoreError(f"{relpath} was evicted from the model cache while being loaded, repeatedly; "
                         "MODEL_CACHE_MAX_BYTES is too small for the versions this machine serves at once")

    @contextmanager
    def derived(self, relpath: str, key: str, build: Callable[[Path], None], *, need: int) -> Iterator[Path]:
        """A directory this machine builds from store files (a small version made loadable, see
        classifiers.ml.artifacts), cached and evicted like fetched entries: `build(directory)` runs once per
        machine, under the entry's exclusive lock, into a scratch directory renamed into place when done.
        `need` is the room to reserve for it. Yields the built model directory, held for reading."""
        self._ready()
        entry, lock = self.entries / key, self.locks / f"{key}.lock"
        built = False
        for _ in range(DOWNLOAD_ATTEMPTS):
            with _flock(lock, fcntl.LOCK_SH):
                if (entry / BUILT_FILE).is_file():
                    (entry / USED_FILE).touch()
                    self._event("miss" if built else "hit")
                    yield entry / DERIVED_DIR
                    return
            with _flock(lock, fcntl.LOCK_EX):
                if not (entry / BUILT_FILE).is_file():
                    self._build(relpath, key, build, need)
                    built = True
        raise StoreError(f"{relpath} was evicted from the model cache while being loaded, repeatedly; "
                         "MODEL_CACHE_MAX_BYTES is too small for the versions this machine serves at once")

    def _build(self, relpath: str, key: str, build: Callable[[Path], None], need: int) -> None:
        scratch = self.tmp / f"build-{uuid.uuid4().hex}"
        try:
            with self._reserve(need, keep=key):
                build(scratch / DERIVED_DIR)
                (scratch / RELPATH_FILE).write_text(relpath)
                (scratch / BUILT_FILE).touch()
                self._remove_entry(key)  # a leftover of a build killed before its rename (no BUILT_FILE)
                os.rename(scratch, self.entries / key)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _fill(self, store: Source, relpath: str, manifest: Manifest, entry: Path, key: str,
              wanted: list[str]) -> bool:
        """Check the entry's copies of `wanted`, fetching those missing or damaged; True when any was fetched."""
        entry.mkdir(exist_ok=True)
        if not (entry / MANIFEST_FILE).is_file():
            self._write_atomic(entry / MANIFEST_FILE, manifest.raw)
            self._write_atomic(entry / RELPATH_FILE, relpath.encode())
        missing = []
        for name in wanted:
            item = manifest.files[name]
            if not self._intact(entry / name, item):
                if (entry / name).exists():
                    logger.warning("model cache: %s/%s does not match its checksum; fetching it again", key, name)
                    self._event("checksum_mismatch")
                    (entry / name).unlink()
                missing.append(item)
        if not missing:
            return False
        need = sum(item.size for item in missing)
        with self._reserve(need, keep=key):
            for item in missing:
                self._download(store, relpath, item, entry / item.name)
        return True

    @staticmethod
    def _intact(path: Path, item: FileEntry) -> bool:
        return path.is_file() and path.stat().st_size == item.size and sha256_file(path) == item.sha256

    def _download(self, store: Source, relpath: str, item: FileEntry, destination: Path) -> None:
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            partial = self.tmp / f"{uuid.uuid4().hex}.part"
            try:
                store.download(relpath, item.name, partial)
                if partial.stat().st_size == item.size and sha256_file(partial) == item.sha256:
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(partial, destination)
                    return
            finally:
                partial.unlink(missing_ok=True)
            logger.warning("model store: %s/%s does not match its manifest (attempt %d)", relpath, item.name, attempt)
            self._event("checksum_mismatch")
        raise ChecksumMismatch(
            f"{relpath}/{item.name} differs from its manifest after {DOWNLOAD_ATTEMPTS} downloads: the copy in the "
            "model store is damaged; train the version again (or restore the object from a backup)")

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
        partial.write_bytes(data)
        os.replace(partial, path)

    # --- room: counting, reservations, eviction -----------------------------------------------------

    @contextmanager
    def _reserve(self, need: int, *, keep: str) -> Iterator[None]:
        """Make room for `need` more bytes in entry `keep` and hold it reserved until the block ends."""
        with _flock(self.root / "cache.lock", fcntl.LOCK_EX):
            in_use = self._entry_bytes(keep)
            if in_use + need > self.max_bytes:
                raise StoreError(
                    f"a version needs {in_use + need:,} bytes in the model cache, more than MODEL_CACHE_MAX_BYTES "
                    f"({self.max_bytes:,}); raise MODEL_CACHE_MAX_BYTES")
            self._evict_until(self.max_bytes - need, keep=keep)
            reservation = self.reservations / f"{os.getpid()}-{uuid.uuid4().hex}"
            reservation.write_text(str(need))
            fd = os.open(reservation, os.O_RDWR)
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            reservation.unlink(missing_ok=True)
            os.close(fd)

    def _reserved_bytes(self) -> int:
        """Bytes other processes are downloading now; reservations of dead processes are removed."""
        total = 0
        for path in self.reservations.iterdir():
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                with suppress(ValueError, OSError):
                    total += int(path.read_text() or 0)
            else:
                path.unlink(missing_ok=True)  # its owner died mid-download
            finally:
                os.close(fd)
        return total

    def _entry_bytes(self, key: str) -> int:
        return sum(p.stat().st_size for p in (self.entries / key).rglob("*") if p.is_file())

    def size(self) -> int:
        """Bytes held by the cache's entries now."""
        self._ready()
        return sum(self._entry_bytes(path.name) for path in self.entries.iterdir())

    def _evict_until(self, budget: int, *, keep: str) -> None:
        """Evict least recently used entries (not `keep`, not in use) until entries + reservations fit `budget`."""
        self._remove_stale_downloads()
        sizes = {path.name: self._entry_bytes(path.name) for path in self.entries.iterdir()}
        total = sum(sizes.values()) + self._reserved_bytes()
        for key in sorted((k for k in sizes if k != keep), key=self._last_used):
            if total <= budget:
                return
            if self._remove_if_idle(key):
                total -= sizes[key]
                self._event("eviction")
        if total > budget:
            logger.warning("model cache over its limit by %d bytes: every other entry is in use", total - budget)

    def _last_used(self, key: str) -> float:
        try:
            return (self.entries / key / USED_FILE).stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def _remove_if_idle(self, key: str) -> bool:
        lock = self.locks / f"{key}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        try:
            self._remove_entry(key)
            lock.unlink(missing_ok=True)  # waiters notice (see _flock) and lock the new file
        finally:
            os.close(fd)
        return True

    def _remove_entry(self, key: str) -> None:
        entry = self.entries / key
        if entry.exists():
            doomed = self.tmp / f"evicted-{uuid.uuid4().hex}"
            os.rename(entry, doomed)  # out of sight in one step, then deleted
            shutil.rmtree(doomed, ignore_errors=True)

    def _remove_stale_downloads(self) -> None:
        cutoff = time.time() - STALE_TMP_S
        for path in self.tmp.iterdir():
            with suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    shutil.rmtree(path) if path.is_dir() else path.unlink()

    # --- dropping versions that no longer exist -----------------------------------------------------

    def cached_versions(self) -> dict[str, list[str]]:
        """Version path → its entry keys, for the entries this machine holds."""
        self._ready()
        found: dict[str, list[str]] = {}
        for entry in self.entries.iterdir():
            with suppress(FileNotFoundError):
                found.setdefault((entry / RELPATH_FILE).read_text(), []).append(entry.name)
        return found

    def drop(self, relpath: str) -> int:
        """Remove every copy of `relpath` (waiting for processes loading from it); returns how many."""
        dropped = 0
        for key in self.cached_versions().get(relpath, []):
            with _flock(self.locks / f"{key}.lock", fcntl.LOCK_EX), _flock(self.root / "cache.lock", fcntl.LOCK_EX):
                self._remove_entry(key)
                (self.locks / f"{key}.lock").unlink(missing_ok=True)
            dropped += 1
            self._event("drop")
        return dropped

    def drop_missing(self, store: Source) -> int:
        """Drop the copies of versions the store no longer has (deleted on another machine)."""
        return sum(self.drop(relpath) for relpath in self.cached_versions() if not store.exists(relpath))
