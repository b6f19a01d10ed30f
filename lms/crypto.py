"""Encryption at rest of health information.

What is encrypted (docs/SECURITY.md has the full list): the patient's identity and the
free text about them in referrals (name, date of birth, e-mail, phone, place, treatments,
medications, clinicians' notes), the item answers of outcome questionnaires, the subject,
description, call-back number and messages of support requests, and the bytes of every
uploaded licensure or insurance document.

How: Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under keys given in
``ENCRYPTION_KEYS``, comma-separated, newest first. The newest key encrypts; every key in
the list can decrypt, so a new key can be put in front while old values are re-encrypted
by ``flask --app app encryption rotate`` (resumable: it skips what is already under the
newest key). Outside production a key is generated into ``instance/encryption.keys`` when
none is given; production refuses to start without one (:func:`lms.config.validate`).

Encrypted columns cannot be searched by SQL. Where a list must be searchable (patients by
name, support requests by subject), the row also keeps *search terms*: a keyed hash
(HMAC-SHA256, key derived from the encryption key) of each normalised word. A search for
a word compares hashes, so the database sees neither the word nor the name; it does learn
which rows share a word, which is the usual price of a blind index.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app, has_app_context
from sqlalchemy import ColumnElement, Text, TypeDecorator, and_, event, false, inspect, or_
from sqlalchemy.orm import Mapper

from lms.config import ConfigError
from lms.db import LARGEST_ID

_EXT = "lms.crypto"
KEY_FILE = "encryption.keys"
# Stored files start with this line, then the Fernet token: unambiguous against the PDF,
# JPEG and PNG bytes stored before encryption existed (read as they are, until rotated).
FILE_HEADER = b"LMS-ENCRYPTED-1\n"
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class DecryptionError(RuntimeError):
    """A value could not be decrypted with any configured key (a key is missing)."""


def new_key() -> str:
    """A new random key, in the form ``ENCRYPTION_KEYS`` takes."""
    return Fernet.generate_key().decode()


def fingerprint(key: str) -> str:
    """A short, non-secret name for a key (for logs and the status command)."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


class Keyring:
    """The configured keys: the first encrypts, all decrypt."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = [k.strip() for k in keys if k and k.strip()]
        if not self.keys:
            raise ConfigError("ENCRYPTION_KEYS holds no key.")
        try:
            self._fernets = [Fernet(k.encode()) for k in self.keys]
        except (ValueError, TypeError) as error:
            raise ConfigError(
                "ENCRYPTION_KEYS must be Fernet keys (32 bytes, url-safe base64), "
                "comma-separated; generate one with `flask --app app encryption new-key`."
            ) from error
        self._multi = MultiFernet(self._fernets)
        # One search-term key per encryption key, derived so the two uses never share a key.
        self._term_keys = [
            hmac.new(base64.urlsafe_b64decode(k), b"lms search terms v1", hashlib.sha256).digest()
            for k in self.keys
        ]

    @property
    def primary(self) -> str:
        return self.keys[0]

    # --- values ---------------------------------------------------------------------------

    def encrypt(self, data: bytes) -> bytes:
        return self._fernets[0].encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._multi.decrypt(token)
        except InvalidToken as error:
            raise DecryptionError(
                "a stored value cannot be decrypted with any key in ENCRYPTION_KEYS "
                "(was a key removed before `encryption rotate` finished?)"
            ) from error

    def encrypt_text(self, text: str) -> str:
        return self.encrypt(text.encode()).decode("ascii")

    def decrypt_text(self, token: str) -> str:
        try:
            raw = token.encode("ascii")
        except UnicodeEncodeError as error:  # not a token at all (plain text)
            raise DecryptionError("a stored value is not encrypted") from error
        return self.decrypt(raw).decode()

    def key_index(self, token: bytes) -> int | None:
        """Which key (0 = the newest) decrypts ``token``; None when none does."""
        for index, fernet in enumerate(self._fernets):
            try:
                fernet.decrypt(token)
            except InvalidToken:
                continue
            return index
        return None

    def is_current(self, token: bytes) -> bool:
        try:
            self._fernets[0].decrypt(token)
        except InvalidToken:
            return False
        return True

    def rotate(self, token: bytes) -> bytes:
        """The same plaintext under the newest key."""
        try:
            return self._multi.rotate(token)
        except InvalidToken as error:
            raise DecryptionError("a stored value cannot be decrypted with any key") from error

    # --- files ----------------------------------------------------------------------------

    def seal_file(self, data: bytes) -> bytes:
        return FILE_HEADER + self.encrypt(data)

    def open_file(self, stored: bytes) -> bytes:
        """The plaintext of a stored file; a file stored before encryption is returned as
        it is (``encryption rotate`` encrypts those)."""
        if not stored.startswith(FILE_HEADER):
            return stored
        return self.decrypt(stored[len(FILE_HEADER) :])

    def file_is_current(self, stored: bytes) -> bool:
        return stored.startswith(FILE_HEADER) and self.is_current(stored[len(FILE_HEADER) :])

    # --- search terms ---------------------------------------------------------------------

    def terms(self, *texts: str | None, key_index: int = 0) -> str:
        """The search terms of ``texts`` under one key: a space-separated list of hashes of
        each normalised word, with a space at both ends so a term matches whole."""
        seen: list[str] = []
        for word in words(*texts):
            tag = self._tag(word, key_index)
            if tag not in seen:
                seen.append(tag)
        return f" {' '.join(seen)} " if seen else ""

    def term_patterns(self, word: str) -> list[str]:
        """LIKE patterns finding ``word`` under any key (during a rotation rows under the
        old key still carry the old key's terms)."""
        return [f"% {self._tag(word, i)} %" for i in range(len(self.keys))]

    def _tag(self, word: str, key_index: int) -> str:
        digest = hmac.new(self._term_keys[key_index], word.encode(), hashlib.sha256)
        return digest.hexdigest()[:16]


def words(*texts: str | None) -> list[str]:
    """The words of ``texts`` as searched: case-folded, accents removed."""
    found: list[str] = []
    for text in texts:
        if not text:
            continue
        plain = unicodedata.normalize("NFKD", text.casefold())
        plain = "".join(c for c in plain if not unicodedata.combining(c))
        found.extend(_WORD.findall(plain))
    return found


# --- the app's keyring -----------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Load the keys (or, outside production, generate the development key file)."""
    configured = (app.config.get("ENCRYPTION_KEYS") or "").strip()
    if configured:
        keys = configured.split(",")
    elif app.config["LMS_ENV"] == "production":  # validate() refuses this first
        raise ConfigError("Refusing to start in production: ENCRYPTION_KEYS is not set.")
    else:
        keys = development_keys(Path(app.instance_path) / KEY_FILE)
    app.extensions[_EXT] = Keyring(keys)


def development_keys(path: Path) -> list[str]:
    """The keys in ``instance/encryption.keys`` (one per line, newest first), made on
    first use. Readable by the owner only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(new_key() + "\n")
    return [line for line in path.read_text().splitlines() if line.strip()]


def keyring() -> Keyring:
    """The current app's keyring."""
    if not has_app_context():
        raise RuntimeError("encryption needs the app (an app context)")
    return current_app.extensions[_EXT]  # type: ignore[no-any-return]


def search_terms(*texts: str | None) -> str:
    return keyring().terms(*texts)


@event.listens_for(Mapper, "mapper_configured")
def _keep_search_terms(mapper: Mapper[Any], cls: type) -> None:
    """A column declared with ``info={"terms_of": "<column>"}`` holds the search terms of that
    (encrypted) column: kept in step on insert, and on update when the source changed. The
    same declaration tells ``encryption rotate`` what to recompute (lms/key_rotation.py)."""
    pairs = [(c.key, c.info["terms_of"]) for c in mapper.columns if "terms_of" in c.info]
    if not pairs:
        return

    def on_insert(_mapper: Any, _connection: Any, target: Any) -> None:
        for terms, source in pairs:
            setattr(target, terms, search_terms(getattr(target, source)))

    def on_update(_mapper: Any, _connection: Any, target: Any) -> None:
        state = inspect(target)
        for terms, source in pairs:
            if state.attrs[source].history.has_changes():
                setattr(target, terms, search_terms(getattr(target, source)))

    event.listen(cls, "before_insert", on_insert)
    event.listen(cls, "before_update", on_update)


def matches_terms(column: Any, text: str) -> ColumnElement[bool]:
    """Rows whose search terms hold every word of ``text`` (whole words, any order, any
    case or accents). Nothing matches a text without words."""
    needed = words(text)
    if not needed:
        return false()
    ring = keyring()
    return and_(*(or_(*(column.like(p) for p in ring.term_patterns(w))) for w in needed))


def matches_words_or_number(
    terms: Any, id_column: Any, text: str, *alternatives: ColumnElement[bool]
) -> ColumnElement[bool]:
    """A search box's condition: the row's search terms hold every word of ``text``
    (:func:`matches_terms`), or any of ``alternatives``, or, when ``text`` is a number
    (``123``, ``#123``), the row's id is that number."""
    condition = or_(matches_terms(terms, text), *alternatives)
    number = text.strip().lstrip("#")
    if number.isdigit() and 0 < int(number) <= LARGEST_ID:  # a longer number names no row
        condition = or_(condition, id_column == int(number))
    return condition


# --- column types ----------------------------------------------------------------------------


class Encrypted(TypeDecorator[Any]):
    """A value stored as a Fernet token in a text column. Subclasses say how the Python
    value becomes text. SQL cannot compare or search these columns."""

    impl = Text
    cache_ok = True

    def dump(self, value: Any) -> str:
        raise NotImplementedError

    def load(self, text: str) -> Any:
        raise NotImplementedError

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return keyring().encrypt_text(self.dump(value))

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return self.load(keyring().decrypt_text(value))


class EncryptedText(Encrypted):
    cache_ok = True
    python_type = str

    def dump(self, value: Any) -> str:
        return str(value)

    def load(self, text: str) -> str:
        return text


class EncryptedDate(Encrypted):
    cache_ok = True
    python_type = date

    def dump(self, value: Any) -> str:
        if not isinstance(value, date):
            raise TypeError(f"expected a date, got {value!r}")
        return value.isoformat()

    def load(self, text: str) -> date:
        return date.fromisoformat(text)


class EncryptedJSON(Encrypted):
    cache_ok = True

    def dump(self, value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))

    def load(self, text: str) -> Any:
        return json.loads(text)
