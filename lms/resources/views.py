"""Resource library pages (partner tools): browse and search, read, download, open links.

Every download and every outside link followed goes through this app, so that it is in the
audit log. The link route redirects only to the address in the library, never to anything
taken from the request (no open redirect).
"""

from __future__ import annotations

import itertools
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request

from lms import audit
from lms.certification.guard import certified_required
from lms.db import Page
from lms.extensions import db
from lms.resources.content import Resource, excerpt, get_library, search, terms
from lms.resources.forms import ResourceSearchForm

bp = Blueprint("resources", __name__)

PER_PAGE = 20


def _resource_or_404(slug: str, kind: str | None = None) -> Resource:
    resource = get_library().get(slug)
    if resource is None or (kind is not None and resource.kind != kind):
        abort(404)
    return resource


def _page(items: list[Resource], number: int) -> Page:
    pages = max(1, -(-len(items) // PER_PAGE))
    number = min(max(1, number), pages)
    start = (number - 1) * PER_PAGE
    return Page(
        items=items[start : start + PER_PAGE], page=number, per_page=PER_PAGE, total=len(items)
    )


@bp.route("/resources")
@certified_required
def index() -> Any:
    """The library: category filter and text search; grouped by category when not searching."""
    library = get_library()
    form = ResourceSearchForm(library, request.args)
    form.validate()
    query = "" if form.q.errors else (form.q.data or "").strip()
    category = None if form.category.errors else (form.category.data or None)
    results = search(library, query, category)
    page = _page(results, request.args.get("page", 1, type=int))
    words = terms(query)
    rows = [(r, excerpt(r, words)) for r in page.items]
    if words:
        groups = [(None, rows)]  # ranked by relevance: one list
    else:
        groups = [
            (key, list(members))
            for key, members in itertools.groupby(rows, key=lambda row: row[0].category)
        ]
    return render_template(
        "resources/index.html",
        form=form,
        library=library,
        counts=library.counts(),
        query=query,
        category=library.category(category) if category else None,
        page=page,
        groups=groups,
    ), 422 if form.errors else 200


@bp.route("/resources/<slug>")
@certified_required
def detail(slug: str) -> Any:
    """One resource: the rendered document (sanitised) or the outside link's description."""
    return render_template("resources/detail.html", resource=_resource_or_404(slug))


@bp.route("/resources/<slug>/download")
@certified_required
def download(slug: str) -> Any:
    """The document as a Markdown file, with its title; recorded in the audit log."""
    resource = _resource_or_404(slug, "document")
    if request.method == "GET":  # a HEAD request (link preview, prefetch) downloads nothing
        audit.record(
            "resource.downloaded",
            object_type="resource",
            object_id=resource.slug,
            title=resource.title,
            format="md",
        )
        db.session.commit()
    body = f"# {resource.title}\n\n{resource.markdown.rstrip()}\n"
    response = Response(body, mimetype="text/markdown")
    response.headers["Content-Disposition"] = f'attachment; filename="{resource.slug}.md"'
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/resources/<slug>/open")
@certified_required
def open_link(slug: str) -> Any:
    """Record that the partner followed an outside link, then go to the library's address."""
    resource = _resource_or_404(slug, "link")
    assert resource.url is not None  # links always have a validated https URL
    if request.method == "GET":
        audit.record(
            "resource.link_opened",
            object_type="resource",
            object_id=resource.slug,
            url=resource.url,
        )
        db.session.commit()
    response = redirect(resource.url, code=302)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
