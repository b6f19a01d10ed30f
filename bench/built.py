"""Which SQL statements a piece of code builds anew, and where it runs them.

A statement built once per process (``functools.cache`` around the function that builds it,
values as bound parameters) keeps its cache key after its first run; one built inside a
request computes its key on every run, after the Python of building it. Both cost more than
running a small indexed query (``python -m bench.layers``), so the key pages build none
(docs/PERFORMANCE.md, "The eleventh round"). Used by ``bench.profile`` (``BUILT=1``) and
by ``tests/perf/test_statements_built.py``.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.sql.cache_key import MemoizedHasCacheKey


@contextmanager
def statements_built() -> Iterator[list[str]]:
    """Inside the block, each statement whose cache key is computed for the first time is
    listed as ``"Select from lms/<file>:<line> <function>"`` (the innermost frame of the app
    that ran it)."""
    original = MemoizedHasCacheKey.__dict__["_generate_cache_key"]
    built: list[str] = []

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        frames = [f for f in traceback.extract_stack()[:-1] if "/lms/" in f.filename]
        where = ""
        if frames:
            frame = frames[-1]
            where = f" from lms/{frame.filename.split('/lms/')[-1]}:{frame.lineno} {frame.name}"
        built.append(type(self).__name__ + where)
        return original(self, *args, **kwargs)

    # The memo replaces itself on the statement after its first run, so the spy sees only
    # statements that had no key yet.
    MemoizedHasCacheKey._generate_cache_key = spy  # type: ignore[method-assign]
    try:
        yield built
    finally:
        MemoizedHasCacheKey._generate_cache_key = original  # type: ignore[method-assign]
