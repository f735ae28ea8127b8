"""Uploaded import files: streamed to IMPORT_UPLOAD_DIR under a size cap, never held whole in memory.

Two guards share one limit (IMPORT_MAX_UPLOAD_BYTES) and one message: `CappedUploadHandler` stops Django
spooling a request's file past the cap (so a huge POST fills neither memory nor the temp directory), and
`store_upload` counts again while it copies the chunks into the upload directory, deleting what it wrote
once the count passes the cap (the rule holds for any caller, not only the admin page).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.utils import timezone

from eduplatform.errors import DomainError


class UploadTooLarge(DomainError):
    """An upload went past IMPORT_MAX_UPLOAD_BYTES; nothing of it was kept."""

    def __init__(self, filename: str) -> None:
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        super().__init__(
            f"{Path(filename).name} is larger than the upload limit of {_size(limit)} "
            f"(IMPORT_MAX_UPLOAD_BYTES); split it, or import it with `manage.py import_feedback` on the server"
        )


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def store_upload(chunks: Iterable[bytes], *, filename: str) -> Path:
    """Write `chunks` to a new file in IMPORT_UPLOAD_DIR with a running byte count; over the cap the partial
    file is deleted and UploadTooLarge raised. Returns the file's path (the caller deletes it when done)."""
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    upload_dir = Path(settings.IMPORT_UPLOAD_DIR)
    upload_dir.mkdir(parents=True, exist_ok=True)
    path = upload_dir / f"{timezone.now().strftime('%Y%m%dT%H%M%S%f')}-{Path(filename).name}"
    written = 0
    try:
        with path.open("xb") as out:
            for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise UploadTooLarge(filename)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


class CappedUploadHandler(FileUploadHandler):
    """First of a request's upload handlers: passes chunks on until a file passes the cap, then stops the
    upload (the rest of the body is read and discarded, not stored) and keeps the refusal in `refused`."""

    def __init__(self, request=None) -> None:  # noqa: ANN001 - Django's signature
        super().__init__(request)
        self.received = 0
        self.refused: UploadTooLarge | None = None

    def new_file(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - Django's signature
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.IMPORT_MAX_UPLOAD_BYTES:
            self.refused = UploadTooLarge(self.file_name or "the file")
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) builds the UploadedFile
