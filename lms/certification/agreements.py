"""The partner agreement's versions, kept as Markdown files in the repository.

Each version is ``v<N>.md`` in ``AGREEMENTS_PATH`` and starts with a small header::

    ---
    version: 2
    effective: 2027-01-01
    title: Partner Agreement and Business Associate Agreement
    ---

The highest version is the current one: publishing ``v<N+1>.md`` asks every partner
to accept again before the gated tools open.
"""

from __future__ import annotations

import functools
import hashlib
import re
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType

from flask import current_app

_FILE = re.compile(r"^v(\d+)\.md$")


class AgreementError(Exception):
    """An agreement file is malformed (a deployment mistake, not a user error)."""


@dataclass(frozen=True)
class Agreement:
    version: int
    effective_on: date
    title: str
    body: str  # Markdown, without the header
    sha256: str  # of the whole file: what exactly was accepted

    @property
    def label(self) -> str:
        return f"version {self.version} (effective {self.effective_on:%B %-d, %Y})"


def _parse(path: Path, version: int, text: str) -> Agreement:
    match = re.match(r"^---\n(.*?)\n---\n", text, re.DOTALL)
    if not match:
        raise AgreementError(f"{path}: missing the '---' header")
    meta: dict[str, str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip().lower()] = value.strip()
    if meta.get("version") != str(version):
        raise AgreementError(f"{path}: header version {meta.get('version')!r} != file name")
    try:
        effective = date.fromisoformat(meta.get("effective", ""))
    except ValueError as error:
        raise AgreementError(f"{path}: 'effective' must be a date (YYYY-MM-DD)") from error
    return Agreement(
        version=version,
        effective_on=effective,
        title=meta.get("title") or "Partner Agreement",
        body=text[match.end() :],
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


@functools.lru_cache(maxsize=64)
def _load(path: str, _mtime_ns: int, version: int) -> Agreement:
    file = Path(path)
    return _parse(file, version, file.read_text(encoding="utf-8"))


# A folder changed this recently is listed every time: the file system's clock ticks in
# milliseconds, so a second change within the same tick would leave its time as it was.
_SETTLED_NS = 2_000_000_000


def _scan(root: str) -> Mapping[int, Path]:
    return MappingProxyType(
        {
            int(m.group(1)): p
            for p in Path(root).iterdir()
            if p.is_file() and (m := _FILE.match(p.name))
        }
    )


@functools.lru_cache(maxsize=16)
def _listing(root: str, _mtime_ns: int) -> Mapping[int, Path]:
    return _scan(root)


def _files(root: Path) -> Mapping[int, Path]:
    """The versions in ``root`` by number. The partner tools ask for the current version on
    every request: the folder is listed again only when it changed (a file published,
    renamed or removed changes the folder's own time), one ``stat`` otherwise."""
    try:
        folder = root.stat()
    except OSError:
        return MappingProxyType({})
    if not stat.S_ISDIR(folder.st_mode):
        return MappingProxyType({})
    if time.time_ns() - folder.st_mtime_ns < _SETTLED_NS:
        return _scan(str(root))
    return _listing(str(root), folder.st_mtime_ns)


def _read(path: Path, version: int) -> Agreement | None:
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:  # removed since the folder was listed
        return None
    return _load(str(path), mtime, version)


def load(version: int, root: Path | None = None) -> Agreement | None:
    """One version of the agreement, or None if there is no such file."""
    root = root or Path(current_app.config["AGREEMENTS_PATH"])
    path = _files(root).get(version)
    return None if path is None else _read(path, version)


def current(root: Path | None = None) -> Agreement | None:
    """The current (highest) version, or None when none is published."""
    root = root or Path(current_app.config["AGREEMENTS_PATH"])
    versions = _files(root)
    if not versions:
        return None
    highest = max(versions)
    return _read(versions[highest], highest)
