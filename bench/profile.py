"""Profile one scenario in-process: where a request's time goes, and its SQL statements.

    .venv/bin/python -m bench.profile therapist_dashboard --requests 50
    .venv/bin/python -m bench.profile admin_dashboard --sql      # print each statement
    BUILT=1 .venv/bin/python -m bench.profile lesson   # statements a request builds anew

Builds the scenario's requests as the benchmark does (``bench/prepare.py``, on the
benchmark database), replays them through the WSGI app under cProfile (standard library:
nothing to install) and prints the functions with the most cumulative time, the mean
time per request and the number of SQL statements per request.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from werkzeug.test import Client

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--sql", action="store_true", help="print the statements of one request")
    parser.add_argument(
        "--time-only",
        action="store_true",
        help="no profiler: the real time per request, and how much of it the SQL took",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="time-only: time the requests in this many rounds and show the fastest (the "
        "machine's noise only ever adds time)",
    )
    parser.add_argument(
        "--by-layer",
        action="store_true",
        help="sum the profile's own time by layer (driver, SQLAlchemy, templates, Flask, app…)",
    )
    parser.add_argument(
        "--path",
        default=None,
        help="GET this path instead, as the scenario's users (a small page: the fixed cost)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="PostgreSQL's own time for each SELECT the requests sent (EXPLAIN ANALYZE of "
        "every one, in a transaction rolled back): planning and execution, by statement",
    )
    parser.add_argument(
        "--with-token",
        action="store_true",
        help="poll scenarios: send the token of the page's last poll, as the page does (the "
        "queue's poll is then answered 204 while nothing changed)",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="this process's resident memory before the requests, at the most while "
        "serving them, and after (what a worker keeps); Linux",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from bench import prepare, run

    url = args.database_url or run.DEFAULT_URL  # the app turns PostgreSQL's JIT off itself
    app = run.make_app(url, secrets.token_hex(32), (ROOT / "instance" / "bench").resolve())
    app.config.update(LMS_ENV="production", DEBUG=False)
    # As under gunicorn in production: templates are not checked for changes on each render
    # (the environment was made before the line above).
    app.jinja_env.auto_reload = False
    snapshot = prepare.Snapshot()
    run_id = f"p{secrets.token_hex(3)}"  # fresh events, submissions and tokens on every run
    with app.app_context():
        scenarios = prepare.build(app, 16, run_id, args.requests + 1, snapshot)
        scenarios.append(prepare.webhook_scenario(run.WEBHOOK_SECRET, args.requests + 1, run_id))
    scenario = next((s for s in scenarios if s.name == args.scenario), None)
    if scenario is None:
        with app.app_context():
            prepare.restore(snapshot)
        print("scenarios:", ", ".join(s.name for s in scenarios))
        return 2
    client = Client(app, use_cookies=False)
    engine = app.extensions["lms.db"].engine
    statements: list[str] = []
    sent: list[tuple[str, Any]] = []  # --explain: each statement with its parameters
    timings: list[float] = []
    clock: list[float] = []

    traced = os.environ.get("TRACE")  # print where the first statement starting so is run from

    def record(_c: Any, _cur: Any, statement: str, parameters: Any, *_a: Any) -> None:
        nonlocal traced
        statements.append(statement)
        if args.explain:
            sent.append((statement, parameters))
        clock.append(time.perf_counter())
        if traced and statement.startswith(traced):
            traced = None
            traceback.print_stack(limit=25)

    def finished(*_a: Any) -> None:
        timings.append(time.perf_counter() - clock[-1])

    def send(request: Any) -> int:
        headers = {"User-Agent": prepare.USER_AGENT, **request.headers}
        response = client.open(
            request.path,
            method=request.method,
            headers=headers,
            data=request.body.encode() if request.body else None,
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        response.close()
        return response.status_code

    requests = [scenario.requests[i % len(scenario.requests)] for i in range(args.requests + 1)]
    if args.path:
        requests = [
            prepare.Request("GET", args.path, {"Cookie": r.headers["Cookie"]}) for r in requests
        ]
    if args.with_token:
        requests = [with_token(client, r) for r in requests]
    if args.memory:  # from before the warm-up, which is a request like the others
        rss_before = memory_reset()
    send(requests[0])  # warm-up: templates compiled, caches filled
    timed = time_functions(os.environ.get("TIME", ""))
    if os.environ.get("BUILT"):  # which statements one request builds anew, and where
        print_built(send, requests[1])
        if len(requests) > 2:
            del requests[1]  # a one-shot request (a submit, a filing) is not sent twice
    event.listen(engine, "before_cursor_execute", record)
    event.listen(engine, "after_cursor_execute", finished)
    profiler = cProfile.Profile()
    statuses: Counter[int] = Counter()
    rounds: list[float] = []  # ms per request in each round (time-only)
    per_round = max(1, (len(requests) - 1) // max(1, args.rounds))
    started, cpu_started = time.perf_counter(), time.process_time()
    if not args.time_only:
        profiler.enable()
    for i, request in enumerate(requests[1:]):
        if i % per_round == 0:
            round_started = time.perf_counter()
        statuses[send(request)] += 1
        if i % per_round == per_round - 1:
            rounds.append((time.perf_counter() - round_started) / per_round * 1000)
    profiler.disable()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    event.remove(engine, "before_cursor_execute", record)
    event.remove(engine, "after_cursor_execute", finished)
    n = len(requests) - 1
    if args.time_only:
        sql = sum(timings) / n * 1000
        each = elapsed / n * 1000
        print(
            f"{scenario.name}: {n} requests, {each:.1f} ms each, of which {sql:.1f} ms in SQL "
            f"({cpu / n * 1000:.1f} ms of this process's CPU)"
        )
        if len(rounds) > 1:
            shown = ", ".join(f"{r:.1f}" for r in rounds)
            print(f"rounds of {per_round}: {shown} ms; fastest {min(rounds):.1f} ms")
    else:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(os.environ.get("SORT", "cumulative")).print_stats(
            os.environ.get("FILTER", ""), args.top
        )
        if os.environ.get("CALLERS"):  # who calls the functions matching CALLERS=
            stats.print_callers(os.environ["CALLERS"])
        print(out.getvalue())
        if args.by_layer:
            print_layers(stats, n)
        # Steadier than any time on a shared machine: the Python work itself.
        calls = stats.total_calls / n  # type: ignore[attr-defined]
        print(
            f"{scenario.name}: {n} requests, {elapsed / n * 1000:.1f} ms each (under the "
            f"profiler); {calls:,.0f} Python function calls per request"
        )
    print(f"statuses {dict(statuses)}; SQL statements per request: {len(statements) / n:.1f}")
    if args.memory:
        rss, peak = memory_now()
        print(
            f"memory (RSS): {rss_before:.1f} MB before the requests, {peak:.1f} MB at the "
            f"most while serving them, {rss:.1f} MB after"
        )
    for name, (calls, seconds) in timed.items():  # TIME=: real time, inclusive, per request
        print(f"  {seconds / n * 1000:7.3f} ms  {calls / n:6.1f} calls  {name}")
    if args.explain:
        print_explained(engine, sent, n)
    if os.environ.get("PLANS"):  # how PostgreSQL planned the statements psycopg prepared
        print_prepared(engine)
    with app.app_context():
        prepare.close_bench_requests()
        prepare.end_bench_sessions()
        prepare.restore(snapshot)
    if args.sql:
        per = len(statements) // n
        width = int(os.environ.get("SQL_WIDTH", "200"))  # characters of each statement shown
        for statement, seconds in zip(statements[:per], timings, strict=False):
            print(f"  {seconds * 1000:7.1f} ms ", " ".join(statement.split())[:width])
    return 0


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise LookupError(field)


def memory_reset() -> float:
    """This process's resident memory now (MB), its high-water mark set back to it (Linux:
    writing 5 to /proc/self/clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


def memory_now() -> tuple[float, float]:
    """Resident memory now and at the most since :func:`memory_reset` (MB)."""
    return _status_mb("VmRSS"), _status_mb("VmHWM")


def time_functions(spec: str) -> dict[str, list[float]]:
    """``TIME=module:function,...``: wrap each function so the requests count its calls
    and real time (inclusive of what it calls), without a profiler's distortion. The
    function is replaced where it is looked up: ``lms.main.views:render_template`` for a
    view's own import of it, ``lms.licensure.services:overview`` for a module function."""
    import functools
    import importlib

    totals: dict[str, list[float]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        module_name, _, attribute = item.partition(":")
        owner: Any = importlib.import_module(module_name)
        *path, last = attribute.split(".")
        for part in path:  # a method: module:Class.method
            owner = getattr(owner, part)
        original = getattr(owner, last)
        totals[item] = total = [0.0, 0.0]

        def wrapper(*a: Any, _f: Any = original, _t: list[float] = total, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return _f(*a, **k)
            finally:
                _t[0] += 1
                _t[1] += time.perf_counter() - started

        setattr(owner, last, functools.wraps(original)(wrapper))
    return totals


def print_built(send: Callable[[Any], int], request: Any) -> None:
    """Send ``request`` once and print each SQL statement it built anew (not once per
    process), with the app's frame that ran it (``bench/built.py``)."""
    from bench.built import statements_built

    with statements_built() as built:
        send(request)
    print(f"statements built by one request: {len(built)}")
    for line in built:
        print("  ", line)


def print_explained(engine: Any, sent: list[tuple[str, Any]], n: int) -> None:
    """PostgreSQL's planning and execution time for each SELECT sent (``--explain``),
    summed by statement and shown per request, with each statement's costliest plan node:
    what the database itself spends on a request, apart from the driver and the network."""
    if engine.dialect.name != "postgresql":
        raise SystemExit("--explain: PostgreSQL only")
    seen: dict[str, list[Any]] = {}  # statement -> [count, planning s, execution s, nodes]
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            for statement, parameters in sent:
                if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                plan = conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
                ).scalar()[0]
                entry = seen.setdefault(statement, [0, 0.0, 0.0, Counter()])
                entry[0] += 1
                entry[1] += plan["Planning Time"]
                entry[2] += plan["Execution Time"]
                entry[3][_costliest_node(plan["Plan"])] += 1
        finally:
            transaction.rollback()
    width = int(os.environ.get("SQL_WIDTH", "120"))
    print("PostgreSQL's own time per request (EXPLAIN ANALYZE), costliest statements first:")
    print("  plan ms  exec ms  runs/req  statement | costliest plan node")
    total_plan = total_exec = 0.0
    for statement, (count, planning, execution, nodes) in sorted(
        seen.items(), key=lambda item: -(item[1][1] + item[1][2])
    ):
        total_plan += planning / n
        total_exec += execution / n
        node = nodes.most_common(1)[0][0]
        text = " ".join(statement.split())[:width]
        print(f"  {planning / n:7.2f}  {execution / n:7.2f}  {count / n:8.1f}  {text} | {node}")
    print(f"  {total_plan:7.2f}  {total_exec:7.2f}  (all SELECTs; writes are not explained)")


def print_prepared(engine: Any) -> None:
    """The statements prepared on the (one) pooled connection, with how often PostgreSQL ran
    each with a generic plan and how often it planned it again for its values (a custom
    plan: planning on every run, as if it were not prepared)."""
    if engine.dialect.name != "postgresql":
        print("PLANS: PostgreSQL only")
        return
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT generic_plans, custom_plans, statement FROM pg_prepared_statements "
            "ORDER BY custom_plans DESC, generic_plans DESC"
        ).all()
    width = int(os.environ.get("SQL_WIDTH", "120"))
    print(f"{len(rows)} prepared statements on the connection: generic, custom plans")
    for generic, custom, statement in rows:
        print(f"  {generic:6d} {custom:6d}  {' '.join(statement.split())[:width]}")


def _costliest_node(plan: dict[str, Any]) -> str:
    """The plan node with the most time of its own (its time less its children's)."""
    best: tuple[float, str] = (-1.0, "")

    def visit(node: dict[str, Any]) -> None:
        nonlocal best
        children = node.get("Plans", [])
        loops = node.get("Actual Loops", 1)
        own = node.get("Actual Total Time", 0.0) * loops - sum(
            c.get("Actual Total Time", 0.0) * c.get("Actual Loops", 1) for c in children
        )
        name = node["Node Type"]
        if "Relation Name" in node:
            name += f" on {node['Relation Name']}"
        if "Index Name" in node:
            name += f" using {node['Index Name']}"
        if own > best[0]:
            best = (own, f"{name} ({own:.2f} ms, {loops} loops)")
        for child in children:
            visit(child)

    visit(plan)
    return best[1]


def with_token(client: Client, request: Any) -> Any:
    """``request`` (a poll) as the open page sends it: the URL of the page's live part."""
    from bench import prepare

    page = client.get(
        "/clinical/support",
        headers={"User-Agent": prepare.USER_AGENT, **request.headers},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    url = prepare.live_part_url(page.get_data(as_text=True))
    if url is None:
        raise SystemExit("--with-token: the page has no live part")
    return prepare.Request("GET", url, request.headers)


# Where a frame's own time is counted: the first matching part of its file's path.
LAYERS = (
    ("/psycopg", "driver (psycopg, waiting for the database)"),
    ("/sqlalchemy/", "SQLAlchemy"),
    ("/jinja2/", "Jinja (runtime)"),
    ("/templates/", "templates (compiled Jinja code)"),
    ("/markupsafe/", "Jinja (runtime)"),
    ("/werkzeug/", "Werkzeug"),
    ("/flask_login/", "Flask extensions"),
    ("/flask_wtf/", "Flask extensions"),
    ("/wtforms/", "Flask extensions"),
    ("/flask/", "Flask"),
    ("/itsdangerous/", "Flask"),
    ("/lms/", "the app (lms/)"),
)


def print_layers(stats: pstats.Stats, n: int) -> None:
    """The profile's own (not cumulative) time summed by layer, per request."""
    totals: Counter[str] = Counter()
    for (filename, _line, _name), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]
        layer = next((name for part, name in LAYERS if part in filename), None)
        if layer is None:
            layer = "Python built-ins" if filename == "~" else "other"
        totals[layer] += own
    whole = sum(totals.values())
    print("own time by layer (ms per request, under the profiler):")
    for layer, seconds in totals.most_common():
        print(f"  {layer:45} {seconds / n * 1000:6.2f}  {seconds / whole:6.1%}")


if __name__ == "__main__":
    raise SystemExit(main())
