"""A version's manifest: every file with its size and sha256, written last, so its presence means "complete".

The manifest's own sha256 (its `digest`) names one exact set of bytes: caches key their copies by version and
digest, so a version whose files changed can never be served from a stale copy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MANIFEST_FILE = ".manifest.json"
LEGACY_MARKER = ".complete"  # written by publish() before manifests existed; bookkeeping, never exported
FORMAT = 1
HASH_CHUNK = 1 << 20


class StoreError(Exception):
    """The model store cannot do what was asked (unreachable, misconfigured, refused)."""


class VersionMissing(StoreError):
    """No complete version at this path: never published, deleted, or its writer died before the manifest."""


class ChecksumMismatch(StoreError):
    """Bytes read back differ from what the manifest says they are."""


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    files: dict[str, FileEntry]
    raw: bytes  # the exact bytes stored, so the digest is the same wherever it is computed

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def total_size(self) -> int:
        return sum(entry.size for entry in self.files.values())

    def names(self) -> list[str]:
        return sorted(self.files)

    @classmethod
    def build(cls, directory: Path) -> Manifest:
        """Hash every file under `directory` (store bookkeeping files excepted)."""
        files = {}
        for path in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
            name = path.relative_to(directory).as_posix()
            if name in (MANIFEST_FILE, LEGACY_MARKER):
                continue
            files[name] = FileEntry(name, path.stat().st_size, sha256_file(path))
        body = {"format": FORMAT, "files": {n: {"size": e.size, "sha256": e.sha256} for n, e in files.items()}}
        return cls(files, json.dumps(body, indent=1, sort_keys=True).encode())

    @classmethod
    def parse(cls, raw: bytes, *, where: str) -> Manifest:
        """Read a stored manifest, refusing anything that could name a file outside its version."""
        try:
            body = json.loads(raw)
            if body.get("format") != FORMAT:
                raise ValueError(f"unknown manifest format {body.get('format')!r}")
            files = {name: FileEntry(safe_name(name), int(v["size"]), str(v["sha256"]))
                     for name, v in body["files"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(f"the manifest of {where} is unreadable: {exc}") from exc
        return cls(files, raw)


def safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or name != path.as_posix():
        raise ValueError(f"file name {name!r} is not a plain relative path")
    return name


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
