"""CSV exports: every admin list can be downloaded with the rows and columns it shows."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Sequence
from typing import IO

from flask import Response, request

from lms import audit
from lms.db import utcnow
from lms.extensions import db

# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    return "'" + value if value[:1] in _FORMULA_STARTS else value


# An export is written to a temporary file as its rows are read: kept in memory up to this
# size, moved to disk beyond it. A worker then holds about the same memory for 100,000 rows
# as for 100 (building them in memory first took 193 MB more at the most, and kept 46 MB, for
# 91,000 rows of the audit log).
SPOOL_BYTES = 4 * 1024 * 1024
BLOCK_BYTES = 64 * 1024


def _spooled(header: Sequence[str], rows: Iterable[Sequence[str]]) -> tuple[IO[bytes], int, int]:
    """The CSV of ``rows`` (every cell formula-safe), rewound; its size in bytes; how many
    rows it holds."""
    # Not a `with`: the open file is handed to the response, which closes it once sent.
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    try:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(header)
        count = 0
        for row in rows:
            writer.writerow([csv_cell(value) for value in row])
            count += 1
        text.flush()
        text.detach()  # the spool stays open for the response
    except BaseException:
        spool.close()
        raise
    size = spool.seek(0, io.SEEK_END)
    spool.seek(0)
    return spool, size, count


class _Blocks:
    """The file in blocks for the response; closed once the last is read, or when the server
    closes the response first (a download abandoned)."""

    def __init__(self, spool: IO[bytes]) -> None:
        self.spool = spool

    def __iter__(self) -> _Blocks:
        return self

    def __next__(self) -> bytes:
        block = b"" if self.spool.closed else self.spool.read(BLOCK_BYTES)
        if not block:
            self.close()
            raise StopIteration
        return block

    def close(self) -> None:
        self.spool.close()


def _download(name: str, spool: IO[bytes], size: int) -> Response:
    """The file as the response: a short one (still in memory) as its bytes, a long one (on
    disk) sent from the file in blocks."""
    body: bytes | _Blocks
    if size <= SPOOL_BYTES:
        with spool:
            body = spool.read()
    else:
        body = _Blocks(spool)
    return Response(
        body,
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-{utcnow():%Y%m%d}.csv"',
            "Content-Length": str(size),
        },
        direct_passthrough=isinstance(body, _Blocks),
    )


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Response:
    """A CSV download named ``<name>-<UTC date>.csv``; every cell made formula-safe."""
    spool, size, _count = _spooled(header, rows)
    return _download(name, spool, size)


def audited_csv(report: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Response:
    """Record the export in the audit log (who, which list, which filters, how many rows),
    commit, and answer with the CSV; exports of personal data are views of it too.

    ``rows`` may be a generator reading the database as it goes: nothing is held but the
    file being written."""
    spool, size, count = _spooled(header, rows)
    try:
        audit.record(
            "report.exported",
            None,
            object_type="report",
            report=report,
            rows=count,
            filters=request.args.to_dict(),
        )
        db.session.commit()
    except BaseException:
        spool.close()
        raise
    return _download(report, spool, size)
