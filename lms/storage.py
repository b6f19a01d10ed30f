"""Stored files (uploaded documents): local files by default, S3-compatible object storage.

Callers see opaque keys: random hex names chosen here, never derived from what
the user called the file, so a name such as ``../../app.py`` cannot reach
anything. The backend is picked by ``STORAGE_BACKEND`` ("local" or "s3").
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any, Protocol

from flask import Flask, current_app

from lms.crypto import Keyring, keyring

_KEY = re.compile(r"^[0-9a-f]{32}$")


class StorageError(RuntimeError):
    """The file could not be stored or read."""


def new_key() -> str:
    """A random, unguessable name for a new file."""
    return secrets.token_hex(16)


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key or ""):
        raise StorageError(f"not a storage key: {key!r}")
    return key


class Storage(Protocol):
    def save(self, data: bytes, content_type: str) -> str:
        """Store ``data`` under a new key and return the key."""

    def read(self, key: str) -> bytes:
        """The bytes stored under ``key``."""

    def delete(self, key: str) -> None:
        """Remove ``key``; missing keys are ignored."""

    def overwrite(self, key: str, data: bytes, content_type: str) -> None:
        """Replace the bytes under an existing ``key`` in one step (key rotation)."""


class LocalStorage:
    """Files under one folder (``instance/uploads`` by default), outside any static folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key

    def save(self, data: bytes, content_type: str) -> str:
        key = new_key()
        self.overwrite(key, data, content_type)
        return key

    def overwrite(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)  # atomic: a reader never sees half a file

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as error:
            raise StorageError(f"no stored file {key}") from error

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Storage:
    """An S3-compatible bucket (AWS S3, MinIO, R2...). Credentials come from boto3's usual
    chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, or an instance role)."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        prefix: str = "uploads/",
        client: Any = None,
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def save(self, data: bytes, content_type: str) -> str:
        key = new_key()
        self.overwrite(key, data, content_type)
        return key

    def overwrite(self, key: str, data: bytes, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._name(key),
                Body=data,
                ContentType=content_type,
                ContentDisposition="attachment",
            )
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"could not store the file: {error}") from error

    def read(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            result = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
            return bytes(result["Body"].read())
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"could not read {key}: {error}") from error

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"could not delete {key}: {error}") from error


class SealedStorage:
    """Encrypts what it stores and decrypts what it reads (:mod:`lms.crypto`), over a
    backend that only ever sees ciphertext. ``backend`` is there for key rotation."""

    def __init__(self, backend: Storage) -> None:
        self.backend = backend

    @property
    def keys(self) -> Keyring:
        return keyring()  # read each time: a key rotation takes effect at once

    def save(self, data: bytes, content_type: str) -> str:
        # The backend records an opaque type: the stored bytes are not the document.
        return self.backend.save(self.keys.seal_file(data), "application/octet-stream")

    def read(self, key: str) -> bytes:
        return self.keys.open_file(self.backend.read(key))

    def delete(self, key: str) -> None:
        self.backend.delete(key)

    def overwrite(self, key: str, data: bytes, content_type: str) -> None:
        self.backend.overwrite(key, self.keys.seal_file(data), "application/octet-stream")


def build_storage(config: Any) -> Storage:
    """The backend the settings ask for."""
    if config["STORAGE_BACKEND"] == "s3":
        return S3Storage(
            config["S3_BUCKET"],
            endpoint_url=config.get("S3_ENDPOINT_URL"),
            region=config.get("S3_REGION"),
            prefix=config.get("S3_PREFIX") or "",
        )
    return LocalStorage(config["UPLOAD_FOLDER"])


_EXT = "lms.storage"


def init_app(app: Flask) -> None:
    app.extensions[_EXT] = None  # built on first use: no network call at start-up


def storage() -> SealedStorage:
    """The current app's storage: the configured backend, encrypted."""
    app = current_app
    sealed = app.extensions.get(_EXT)
    if sealed is None:
        sealed = SealedStorage(build_storage(app.config))
        app.extensions[_EXT] = sealed
    return sealed  # type: ignore[no-any-return]
