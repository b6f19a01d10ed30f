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
from dataclasses import dataclass
from datetime import date
from pathlib import Path

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


def _files(root: Path) -> dict[int, Path]:
    if not root.is_dir():
        return {}
    return {
        int(m.group(1)): p for p in root.iterdir() if p.is_file() and (m := _FILE.match(p.name))
    }


def load(version: int, root: Path | None = None) -> Agreement | None:
    """One version of the agreement, or None if there is no such file."""
    root = root or Path(current_app.config["AGREEMENTS_PATH"])
    path = _files(root).get(version)
    if path is None:
        return None
    return _load(str(path), path.stat().st_mtime_ns, version)


def current(root: Path | None = None) -> Agreement | None:
    """The current (highest) version, or None when none is published."""
    root = root or Path(current_app.config["AGREEMENTS_PATH"])
    versions = _files(root)
    return load(max(versions), root) if versions else None
