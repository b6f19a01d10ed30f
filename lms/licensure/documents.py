"""Uploaded documents: checked by content (magic bytes) and size, stored, served safely."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from flask import current_app
from werkzeug.utils import secure_filename

from lms.extensions import db
from lms.licensure.models import Document
from lms.storage import StorageError, storage

# What we accept, told by the first bytes of the file (its name and browser-sent type are ignored).
SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
]
EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


class UploadRefused(Exception):
    """A file was refused; ``message`` is safe to show. ``too_large`` answers 413."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.too_large = too_large


@dataclass
class Upload:
    """A checked file, not stored yet."""

    name: str
    data: bytes
    content_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def sniff(data: bytes) -> str | None:
    """The content type the bytes really are, among the accepted ones; None otherwise."""
    for magic, content_type in SIGNATURES:
        if data.startswith(magic):
            return content_type
    return None


def safe_name(filename: str | None, content_type: str) -> str:
    """A display name without paths or odd characters, ending in the real type's extension."""
    stem = secure_filename(filename or "").rsplit(".", 1)[0][:150] or "document"
    return f"{stem}.{EXTENSIONS[content_type]}"


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")


def check_files(files: list[Any]) -> list[Upload]:
    """Read and check every file sent (werkzeug ``FileStorage``s); refuse on the first bad one.

    Nothing is stored here, so a refusal leaves what was saved before untouched.
    """
    limit = int(current_app.config["UPLOAD_MAX_BYTES"])
    most = int(current_app.config["UPLOAD_MAX_FILES"])
    sent = [f for f in files if f is not None and getattr(f, "filename", "")]
    if len(sent) > most:
        raise UploadRefused(f"Send at most {most} files at a time.")
    uploads = []
    for item in sent:
        shown = secure_filename(item.filename) or "The file"
        data = item.stream.read(limit + 1)
        if len(data) > limit:
            raise UploadRefused(
                f"{shown} is larger than {_megabytes(limit)}, the largest file we accept. "
                "Nothing was saved; choose a smaller file (a scan at 150–200 dpi is enough).",
                too_large=True,
            )
        if not data:
            raise UploadRefused(f"{shown} is empty. Nothing was saved; choose the file again.")
        content_type = sniff(data)
        if content_type is None:
            raise UploadRefused(
                f"{shown} is not a PDF, JPEG or PNG file (we check the file's content, not its "
                "name). Nothing was saved; export or scan the document as PDF, JPEG or PNG."
            )
        uploads.append(Upload(safe_name(item.filename, content_type), data, content_type))
    return uploads


def store(upload: Upload, user_id: int, **owner: Any) -> Document:
    """Write the bytes to the storage backend and add the Document row (``license=`` or
    ``insurance=``). Call only once every file of the form has passed :func:`check_files`."""
    key = storage().save(upload.data, upload.content_type)
    document = Document(
        user_id=user_id,
        storage_key=key,
        original_name=upload.name,
        content_type=upload.content_type,
        size_bytes=len(upload.data),
        sha256=upload.sha256,
        **owner,
    )
    db.session.add(document)
    return document


def discard(documents: list[Document]) -> None:
    """Best effort: remove stored bytes whose rows were rolled back."""
    for document in documents:
        try:
            storage().delete(document.storage_key)
        except StorageError:
            current_app.logger.warning("could not remove orphan upload %s", document.storage_key)


def read(document: Document) -> bytes:
    return storage().read(document.storage_key)


# The document route's headers: never rendered as a page or run, even if the bytes lie.
DOCUMENT_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "object-src 'self'; frame-ancestors 'self'; sandbox"
)
