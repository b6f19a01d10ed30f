"""CSV exports: every admin list can be downloaded with the rows and columns it shows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from flask import Response, request

from lms import audit
from lms.db import utcnow
from lms.extensions import db

# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    return "'" + value if value[:1] in _FORMULA_STARTS else value


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Response:
    """A CSV download named ``<name>-<UTC date>.csv``; every cell made formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return Response(
        buffer.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{utcnow():%Y%m%d}.csv"'},
    )


def audited_csv(report: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Response:
    """Record the export in the audit log (who, which list, which filters, how many rows),
    commit, and answer with the CSV; exports of personal data are views of it too."""
    rows = list(rows)
    audit.record(
        "report.exported",
        None,
        object_type="report",
        report=report,
        rows=len(rows),
        filters=request.args.to_dict(),
    )
    db.session.commit()
    return csv_response(report, header, rows)
