"""The local model store: one directory per version under a root directory (the default, `var/models`).

A version is built in a hidden directory on the same file system and renamed into place when complete, so
a directory at a version's path is always a whole version; its manifest is written into it before the
rename. Workers read versions in place: no cache is needed on the machine that holds the files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from classifiers.store.manifest import HASH_CHUNK, MANIFEST_FILE, Manifest, StoreError, VersionMissing, safe_name


class LocalStore:
    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def describe(self) -> str:
        return str(self.root)

    def ensure_root(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def path(self, relpath: str) -> Path:
        root = self.ensure_root().resolve()
        path = (root / relpath).resolve()
        if root not in path.parents:
            raise ValueError(f"model path {relpath!r} is outside MODEL_STORE")
        return path

    def new_build_dir(self) -> Path:
        """A private build directory inside the store (same file system, so publishing is one rename)."""
        tmp = self.ensure_root() / ".tmp"
        tmp.mkdir(exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="build-", dir=tmp))

    def publish(self, build_dir: Path, relpath: str) -> Manifest:
        final = self.path(relpath)
        final.parent.mkdir(parents=True, exist_ok=True)
        manifest = Manifest.build(build_dir)
        with open(build_dir / MANIFEST_FILE, "wb") as fh:
            fh.write(manifest.raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(build_dir, final)
        return manifest

    def exists(self, relpath: str) -> bool:
        return self.path(relpath).is_dir()

    def directory(self, relpath: str) -> Path:
        path = self.path(relpath)
        if not path.is_dir():
            raise VersionMissing(f"{relpath} is not in the model store ({self.describe()})")
        return path

    def manifest(self, relpath: str) -> Manifest:
        directory = self.directory(relpath)
        stored = directory / MANIFEST_FILE
        if stored.is_file():
            return Manifest.parse(stored.read_bytes(), where=relpath)
        return Manifest.build(directory)  # published before manifests existed: the rename made it whole

    def delete(self, relpath: str) -> None:
        """Rename the version out of sight first, so nobody sees it half deleted, then remove it."""
        path = self.path(relpath)
        if not path.exists():
            return
        if path.parent.name == ".tmp":  # a leftover build: nobody reads it
            shutil.rmtree(path, ignore_errors=True)
            return
        doomed = self.ensure_root() / ".tmp" / f"deleting-{uuid.uuid4().hex}"
        doomed.parent.mkdir(exist_ok=True)
        os.rename(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def list_versions(self) -> dict[str, float]:
        """Every version directory (relpath → last change, epoch seconds), and leftovers of killed builds and
        deletions under `.tmp` (as `.tmp/<name>`)."""
        root = self.ensure_root()
        found = {p.relative_to(root).as_posix(): p.stat().st_mtime for p in root.glob("*/*/*")
                 if p.is_dir() and not p.relative_to(root).as_posix().startswith(".")}
        if (root / ".tmp").is_dir():
            found |= {f".tmp/{p.name}": p.stat().st_mtime for p in (root / ".tmp").iterdir()}
        return found

    def list_children(self, parent: str) -> dict[str, float]:
        """Every directory under `parent` (`parent/<name>` → its newest change, epoch seconds): the base-model
        parts under BASE_ROOT, whose files are written just before their publishing rename."""
        directory = self.path(parent)
        found: dict[str, float] = {}
        for child in directory.iterdir() if directory.is_dir() else []:
            try:
                found[f"{parent}/{child.name}"] = max(p.stat().st_mtime for p in [child, *child.iterdir()])
            except (FileNotFoundError, NotADirectoryError):  # a file, or renamed away by a deletion meanwhile
                continue
        return found

    def download(self, relpath: str, name: str, destination: Path) -> None:
        shutil.copyfile(self.directory(relpath) / safe_name(name), destination)

    def iter_file(self, relpath: str, name: str) -> Iterator[bytes]:
        with open(self.directory(relpath) / safe_name(name), "rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                yield chunk

    def read_file(self, relpath: str, name: str) -> bytes:
        return (self.directory(relpath) / safe_name(name)).read_bytes()

    def ping(self) -> None:
        try:
            root = self.ensure_root()
        except OSError as exc:
            raise StoreError(f"the model store directory cannot be created: {exc.strerror}") from exc
        if not os.access(root, os.W_OK | os.X_OK):
            raise StoreError("the model store directory is not writable")
