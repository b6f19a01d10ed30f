"""The benchmark: the app under gunicorn on the seeded PostgreSQL data, against a ceiling.

    .venv/bin/python -m bench.run                 # everything, 20 s per scenario
    .venv/bin/python -m bench.run --duration 5 --only therapist_dashboard,lesson

Steps: create the database (``lms_bench``) if missing, migrate it, seed it with
``lms.scale`` unless the scale data is there, prepare logged-in sessions and the
requests of every scenario, start the app (production settings) and the ceiling app
(``bench/ceiling.py``) under gunicorn with the same settings, drive each with wrk
(``bench/wrk/replay.lua``) for a fixed time with N concurrent connections, then read
every worker's memory, print a table and write ``bench/results/<timestamp>.json`` and
``.md``. See docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LUA = ROOT / "bench" / "wrk" / "replay.lua"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench"
WEBHOOK_SECRET = "whsec_bench_" + "0" * 24  # noqa: S105 - a throw-away benchmark secret
TARGETS = {"read": 0.25, "write": 0.10}
P95_TARGET_MS = 100.0
RSS_TARGET_MB = 150.0
# Writes whose share of the ceiling the issue sets at 10%; every other page at 25%.
TEN_PERCENT = {"quiz_submit", "support_file"}


def log(message: str) -> None:
    print(message, flush=True)


# --- database ---------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url.replace("+psycopg", ""))
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            log(f"created database {name}")


def make_app(url: str, secret: str, instance: Path) -> Any:
    from lms import create_app

    return create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": secret,
            "INSTANCE_PATH": str(instance),
            "STRIPE_SECRET_KEY": "sk_test_bench",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_bench",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
    )


def migrate_and_seed(app: Any, scale: float) -> dict[str, Any] | None:
    from flask_migrate import upgrade

    from lms import scale as scale_data

    with app.app_context():
        upgrade()
        if scale_data.scale_data_exists():
            log("scale data present: reused")
            return None
        log(f"seeding at scale {scale} (flask seed-scale)...")
        started = time.monotonic()
        made = scale_data.seed(scale, echo=log)
        log(f"seeded in {time.monotonic() - started:.0f} s")
        vacuum(app)
        return made


def vacuum(app: Any) -> None:
    """What autovacuum does soon after a bulk load on a running database (and what a machine
    with autovacuum off never does): statistics, the visibility map, and the GIN indexes'
    pending entries merged (until then a trigram search reads them one by one)."""
    from lms.extensions import db

    started = time.monotonic()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    log(f"vacuumed in {time.monotonic() - started:.0f} s")


def table_counts(app: Any) -> dict[str, int]:
    from sqlalchemy import text

    from lms.extensions import db

    names = [
        "users",
        "module_progress",
        "quiz_attempts",
        "licenses",
        "licensure_documents",
        "support_requests",
        "support_events",
        "referrals",
        "outcome_measurements",
        "audit_events",
    ]
    with app.app_context():
        return {
            n: int(db.session.scalar(text(f"SELECT count(*) FROM {n}")) or 0)  # noqa: S608
            for n in names
        }


# --- servers ----------------------------------------------------------------------------------


class Server:
    """A gunicorn master started by the benchmark (stopped by its pid, never by name)."""

    def __init__(self, name: str, target: str, port: int, env: dict[str, str], args: Any):
        self.name, self.port = name, port
        log_path = Path(tempfile.gettempdir()) / f"lms-bench-{name}.log"
        self.log = log_path.open("w")
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--chdir",
            str(ROOT),
            target,
        ]
        if args.worker_class == "gthread":
            command[1:1] = ["--threads", str(args.threads)]
        self.process = subprocess.Popen(  # noqa: S603
            command, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT
        )

    def wait(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log.name}")
            try:
                status, _h, _b = fetch(self.port, "GET", path)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{self.name} did not answer {path} in {timeout} s")

    def workers(self) -> list[int]:
        out = subprocess.run(  # noqa: S603
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        return [int(p) for p in out.stdout.split()]

    def rss_mb(self) -> dict[int, float]:
        sizes = {}
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    sizes[pid] = round(int(line.split()[1]) / 1024, 1)
        return sizes

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def fetch(
    port: int, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


# --- load -------------------------------------------------------------------------------------


def smoke(port: int, scenario: Any) -> str | None:
    """Send the first request of the scenario; what is wrong with the answer, if anything."""
    from bench.prepare import USER_AGENT

    first = scenario.requests[0]
    status, headers, body = fetch(
        port,
        first.method,
        first.path,
        {"User-Agent": USER_AGENT, **first.headers},
        first.body.encode() if first.body is not None else None,
    )
    location = headers.get("Location", "")
    if status not in scenario.expect:
        return f"{first.method} {first.path} answered {status} {location} {body[:300]!r}"
    if "/login" in location:
        return f"{first.method} {first.path} sent the user to log in: the session is not valid"
    return None


def as_the_page_polls(port: int, scenario: Any, duration: float) -> Any:
    """The queue's poll as open queue pages send it: with the token of what the page shows
    (``since``; the app answers 204 while nothing it shows has changed), taken from each
    clinician's queue page just before the run. The token holds the minute, so the run
    starts early in a minute (waiting up to a minute) and ends within it; one poll in six has
    no token and is rendered in full, as a page polling every 10 s has its part rendered
    again once a minute (docs/PERFORMANCE.md, "The ninth round")."""
    import dataclasses

    from bench.prepare import USER_AGENT, Request, live_part_url

    left = 60 - time.time() % 60
    if left < duration + 5:
        log(f"{scenario.name}: waiting {left:.0f} s for the next minute")
        time.sleep(left + 1)
    requests = []
    for full in scenario.requests:
        status, _headers, body = fetch(
            port, "GET", "/clinical/support", {"User-Agent": USER_AGENT, **full.headers}
        )
        url = live_part_url(body.decode())
        if status != 200 or url is None or "since=" not in url:
            raise RuntimeError(f"{scenario.name}: the queue page gave no poll token ({status})")
        polled = Request("GET", url, full.headers)
        requests += [polled] * 5 + [full]
    return dataclasses.replace(scenario, requests=requests, expect={200, 204})


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """Each process's CPU time so far (user + system, seconds), from ``/proc``."""
    tick = os.sysconf("SC_CLK_TCK")
    times = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    return times


def postgres_pids() -> list[int]:
    """This machine's PostgreSQL processes (the server and every backend), by command line;
    none when the database runs elsewhere."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if command.startswith(b"postgres") or b"/bin/postgres" in command.split(b"\0")[0]:
                found.append(int(entry.name))
    return found


class CpuMeter:
    """The CPU time the app's workers, PostgreSQL and the load generator (this process's
    children) spend while it is open: where the machine's time goes, per request."""

    def __init__(self, workers: list[int]) -> None:
        self.workers = workers
        self.app = cpu_seconds(workers)
        self.db = cpu_seconds(postgres_pids())
        self.children = self._children()

    @staticmethod
    def _children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def per_request_ms(self, requests: int) -> dict[str, float]:
        app = cpu_seconds(self.workers)
        db = cpu_seconds(postgres_pids())
        # A backend started meanwhile counts from zero; one that ended is not counted.
        spent = {
            "app": sum(t - self.app.get(pid, 0.0) for pid, t in app.items()),
            "database": sum(t - self.db.get(pid, 0.0) for pid, t in db.items()),
            "load generator": self._children() - self.children,
        }
        return {k: round(v / max(1, requests) * 1000, 3) for k, v in spent.items()}


def run_wrk(
    port: int, lines: list[str], args: Any, duration: float, workers: list[int] | None = None
) -> dict[str, Any]:
    """Drive the server on ``port`` with ``lines``; with ``workers`` (its worker pids), also
    the CPU time spent per request by them, by PostgreSQL and by wrk (``cpu_ms``)."""
    meter = CpuMeter(workers or [])
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as handle:
        handle.write("\n".join(lines) + "\n")
        path = handle.name
    try:
        command = [
            args.wrk,
            f"-t{args.wrk_threads}",
            f"-c{args.users}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            f"http://127.0.0.1:{port}",
            "--",
            path,
            str(args.wrk_threads),
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    finally:
        os.unlink(path)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data: dict[str, Any] = json.loads(line[len("BENCH_JSON ") :])
            data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
            if workers:
                data["cpu_ms"] = meter.per_request_ms(data["requests"])
            return data
    raise RuntimeError(f"wrk printed no result: {out.stdout} {out.stderr}")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --- report -----------------------------------------------------------------------------------


def judge(
    name: str, kind: str, result: dict[str, Any], ceiling_rps: float, one_shot: bool = False
) -> dict[str, Any]:
    share = result["rps"] / ceiling_rps if ceiling_rps else 0.0
    needed = TARGETS["write"] if name in TEN_PERCENT else TARGETS["read"]
    errors = sum(result["errors"].values())
    unexpected = result.get("unexpected", 0)
    return {
        "share": round(share, 4),
        "share_target": needed,
        "share_ok": share >= needed,
        "p95_ok": result["latency_us"]["p95"] / 1000 < P95_TARGET_MS,
        # A one-shot scenario that ran out of prepared requests re-sent some: not a clean run.
        "errors_ok": errors == 0 and unexpected == 0 and not (one_shot and result.get("wrapped")),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Benchmark {report['started']}",
        "",
        f"- commit `{report['commit']}`, {report['machine']}",
        f"- {report['settings']['users']} concurrent users, {report['settings']['duration']} s "
        f"per scenario, gunicorn {report['settings']['workers']} × "
        f"{report['settings']['worker_class']} workers, wrk {report['settings']['wrk_threads']} "
        f"threads on the same machine, PostgreSQL JIT "
        f"{'on' if report['settings']['jit'] else 'off'}",
        f"- load average before / after: {report['load_before']} / {report['load_after']}",
        f"- data: {', '.join(f'{k} {v:,}' for k, v in report['data'].items())}",
        f"- ceiling: {report['ceiling_rps']:.0f} req/s on average "
        f"({', '.join(str(round(c['rps'])) for c in report['ceiling'])} in turn; each scenario is "
        "read against the runs either side of it)",
        "",
        "| scenario | kind | req/s | ceiling req/s | share | target | p50 ms | p95 ms | p99 ms | "
        "errors | met | CPU ms a request: app, database, wrk |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in report["scenarios"]:
        r, v = row["result"], row["verdict"]
        lat = r["latency_us"]
        errors = sum(r["errors"].values()) + r.get("unexpected", 0)
        met = "yes" if v["share_ok"] and v["p95_ok"] and v["errors_ok"] else "no"
        lines.append(
            f"| {row['label']} | {row['kind']} | {r['rps']:.0f} | {row['ceiling_rps']:.0f} | "
            f"{v['share']:.1%} | "
            f"{v['share_target']:.0%} | {lat['p50'] / 1000:.1f} | {lat['p95'] / 1000:.1f} | "
            f"{lat['p99'] / 1000:.1f} | {errors} | {met} | {cpu_text(r)} |"
        )
    ceilings = [cpu_text(c) for c in report["ceiling"] if c.get("cpu_ms")]
    if ceilings:
        lines += [
            "",
            "The ceiling's CPU ms a request (app, database, wrk), run by run: "
            f"{'; '.join(ceilings)}.",
        ]
    lines += ["", "Worker memory after the run (RSS, MB): "]
    lines.append(
        ", ".join(f"{pid}: {mb}" for pid, mb in report["rss_after_mb"].items())
        + f" (target < {RSS_TARGET_MB:.0f})"
    )
    if report.get("plans"):
        lines += [
            "",
            "| query | index scans | sequential scans | ms | generic plan: sequential scans | ms |",
            "|---|---|---|---:|---|---:|",
        ]
        for plan in report["plans"]:
            lines.append(
                f"| {plan['name']} | {'; '.join(plan['index_scans']) or '—'} | "
                f"{', '.join(plan['seq_scans']) or '—'} | {plan['ms'] or 0:.1f} | "
                f"{', '.join(plan.get('generic_seq_scans', [])) or '—'} | "
                f"{plan.get('generic_ms') or 0:.1f} |"
            )
    return "\n".join(lines) + "\n"


def cpu_text(result: dict[str, Any]) -> str:
    """The CPU time a request took in the app's workers, PostgreSQL and wrk ("—" if not
    measured): what the machine spent, where the in-process profile sees one process."""
    cpu = result.get("cpu_ms")
    if not cpu:
        return "—"
    return f"{cpu['app']:.2f}, {cpu['database']:.2f}, {cpu['load generator']:.2f}"


def print_table(report: dict[str, Any]) -> None:
    log("")
    log(
        f"{'scenario':<28}{'req/s':>8}{'share':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'err':>6}  met"
        "  CPU ms/request: app, db, wrk"
    )
    log(f"{'ceiling':<28}{report['ceiling_rps']:>8.0f}{'':>47}{cpu_text(report['ceiling'][0])}")
    for row in report["scenarios"]:
        r, v = row["result"], row["verdict"]
        lat = r["latency_us"]
        errors = sum(r["errors"].values()) + r.get("unexpected", 0)
        met = "yes" if v["share_ok"] and v["p95_ok"] and v["errors_ok"] else "NO"
        log(
            f"{row['label']:<28}{r['rps']:>8.0f}{v['share']:>8.1%}{lat['p50'] / 1000:>8.1f}"
            f"{lat['p95'] / 1000:>8.1f}{lat['p99'] / 1000:>8.1f}{errors:>6}  {met:<3}"
            f"  {cpu_text(r)}"
        )
    log(f"worker RSS after (MB): {report['rss_after_mb']}")


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--scale", type=float, default=1.0, help="seed-scale factor if seeding")
    parser.add_argument("--duration", type=float, default=20, help="seconds per scenario")
    parser.add_argument("--users", type=int, default=16, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--pool", type=int, default=8000, help="one-shot requests per writer")
    parser.add_argument(
        "--ceiling-every", type=int, default=4, help="measure the ceiling again every N scenarios"
    )
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--port", type=int, default=8701, help="app port (ceiling: port + 1)")
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument(
        "--jit",
        action="store_true",
        help="leave PostgreSQL's JIT on for the servers (DATABASE_JIT=on; see PERFORMANCE.md)",
    )
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    args = parser.parse_args(argv)
    if not shutil.which(args.wrk):
        log("wrk is not installed: apt-get install wrk")
        return 2

    sys.path.insert(0, str(ROOT))
    from bench import explain, prepare

    started = datetime.now(UTC)
    run_id = started.strftime("%Y%m%d%H%M%S")
    secret = secrets.token_hex(32)
    instance = ROOT / "instance" / "bench"
    instance.mkdir(parents=True, exist_ok=True)
    ensure_database(args.database_url)
    app = make_app(args.database_url, secret, instance)
    made = migrate_and_seed(app, args.scale)
    with app.app_context():
        prepare.close_bench_requests()
        prepare.end_bench_sessions()
        log("preparing sessions and requests...")
        snapshot = prepare.Snapshot()
        try:
            scenarios = prepare.build(app, args.users, run_id, args.pool, snapshot)
        except BaseException:
            prepare.restore(snapshot)
            raise
        scenarios.append(prepare.webhook_scenario(WEBHOOK_SECRET, args.pool, run_id))
        plans = [] if args.no_explain else [p.as_dict() for p in explain.plans()]
    only = {s for s in args.only.split(",") if s}
    if only:
        scenarios = [s for s in scenarios if s.name in only]

    from lms.crypto import KEY_FILE, development_keys

    # The app turns PostgreSQL's JIT off itself (DATABASE_JIT, off by default); the ceiling is
    # not the app, so it gets the same setting on its URL.
    ceiling_url = args.database_url
    if not args.jit:
        ceiling_url += ("&" if "?" in ceiling_url else "?") + "options=-c%20jit%3Doff"
    env = {
        **os.environ,
        "LMS_ENV": "production",
        "SECRET_KEY": secret,
        # The key the seeding made (instance/bench/encryption.keys): production needs it given.
        "ENCRYPTION_KEYS": ",".join(development_keys(instance / KEY_FILE)),
        "DATABASE_URL": args.database_url,
        "DATABASE_JIT": "on" if args.jit else "off",
        "INSTANCE_PATH": str(instance),
        "BASE_URL": f"http://127.0.0.1:{args.port}",
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_bench",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "BENCH_DATABASE_URL": ceiling_url,
        # The benchmark's partners file requests far faster than any person: the per-therapist
        # filing limit (20 an hour) would answer 429 after the first seconds.
        "SUPPORT_FILING_RATE_LIMIT": "1000000 per hour",
    }
    if shutil.which("redis-cli"):
        env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    servers = [
        Server("app", "app:app", args.port, env, args),
        Server("ceiling", "bench.ceiling:app", args.port + 1, env, args),
    ]
    report: dict[str, Any] = {}
    try:
        servers[0].wait("/healthz")
        servers[1].wait("/ceiling/1")
        rss_start = servers[0].rss_mb()
        with app.app_context():
            from sqlalchemy import func, select

            from lms.accounts.models import User
            from lms.extensions import db

            top = db.session.scalar(select(func.max(User.id))) or 1
        ceiling_lines = [
            prepare.Request("GET", f"/ceiling/{1 + (i * 7919) % top}").line() for i in range(5000)
        ]
        log("warming up...")
        run_wrk(args.port + 1, ceiling_lines, args, 3)
        for scenario in scenarios:
            if scenario.kind == "read":
                run_wrk(args.port, [r.line() for r in scenario.requests], args, 1)
        load_before = load_average()
        # The ceiling runs first, after every few scenarios and last; each scenario is read
        # against the ceiling runs on either side of it, so a machine whose load changes
        # during the run (it is shared) moves both numbers of a ratio together.
        app_workers, ceiling_workers = servers[0].workers(), servers[1].workers()
        ceiling = [run_wrk(args.port + 1, ceiling_lines, args, args.duration, ceiling_workers)]
        log(f"ceiling: {ceiling[0]['rps']:.0f} req/s")
        rows = []
        for index, scenario in enumerate(scenarios):
            if scenario.name == "webhook":
                # Signed just before use: Stripe's signatures are good for five minutes.
                scenario = prepare.webhook_scenario(WEBHOOK_SECRET, 4 * args.pool, run_id)
            if scenario.name == "clinician_queue_live":
                scenario = as_the_page_polls(args.port, scenario, args.duration)
            problem = smoke(args.port, scenario)
            if problem:
                raise RuntimeError(f"{scenario.name}: {problem}")
            lines = [r.line() for r in scenario.requests[1:]]
            duration = args.duration
            if scenario.name == "quiz_submit":
                # The open attempts are as many as the seeded learners allow: a short probe on
                # a tenth of them tells the rate, and the run stops before the rest run out. The
                # warm run can go half again as fast as the probe (a run of 2,419 submits sized
                # at 80% ran out): sized for 60% of them.
                probe = lines[-len(lines) // 10 :]
                lines = lines[: -len(probe)]
                rate = run_wrk(args.port, probe, args, 2)["rps"] or 1.0
                duration = max(3, min(args.duration, int(0.6 * len(lines) / rate)))
            result = run_wrk(args.port, lines, args, duration, app_workers)
            result["seconds"] = duration
            result["unexpected"] = sum(
                n for code, n in result["statuses"].items() if int(code) not in scenario.expect
            )
            rows.append(
                {
                    "name": scenario.name,
                    "label": scenario.label,
                    "kind": scenario.kind,
                    "result": result,
                    "one_shot": scenario.one_shot,
                    "ceiling_before": len(ceiling) - 1,
                }
            )
            log(
                f"{scenario.name}: {result['rps']:.0f} req/s, p95 "
                f"{result['latency_us']['p95'] / 1000:.1f} ms, statuses {result['statuses']}"
            )
            if (index + 1) % args.ceiling_every == 0 or index == len(scenarios) - 1:
                ceiling.append(
                    run_wrk(args.port + 1, ceiling_lines, args, args.duration, ceiling_workers)
                )
                log(f"ceiling: {ceiling[-1]['rps']:.0f} req/s")
        ceiling_rps = sum(c["rps"] for c in ceiling) / len(ceiling)
        for row in rows:
            around = ceiling[row["ceiling_before"] : row["ceiling_before"] + 2]
            row["ceiling_rps"] = sum(c["rps"] for c in around) / len(around)
            row["verdict"] = judge(
                row["name"], row["kind"], row["result"], row["ceiling_rps"], row["one_shot"]
            )
        report = {
            "started": started.isoformat(timespec="seconds"),
            "commit": subprocess.run(  # noqa: S603
                ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
                capture_output=True,
                text=True,
                check=False,
                cwd=ROOT,
            ).stdout.strip(),
            "machine": f"{os.cpu_count()} cores, {platform.platform()}",
            "settings": {
                "users": args.users,
                "duration": args.duration,
                "workers": args.workers,
                "worker_class": args.worker_class,
                "wrk_threads": args.wrk_threads,
                "database": urlsplit(args.database_url).path.lstrip("/"),
                "jit": bool(args.jit),
            },
            "seeded": made,
            "data": table_counts(app),
            "load_before": load_before,
            "load_after": load_average(),
            "ceiling": ceiling,
            "ceiling_rps": ceiling_rps,
            "scenarios": rows,
            "rss_start_mb": rss_start,
            "rss_after_mb": servers[0].rss_mb(),
            "ceiling_rss_after_mb": servers[1].rss_mb(),
            "plans": plans,
        }
    finally:
        for server in servers:
            server.stop()
        with app.app_context():
            closed = prepare.close_bench_requests()
            prepare.end_bench_sessions()
            prepare.restore(snapshot)
        log(f"closed {closed} benchmark support requests")
        if env.get("REDIS_URL", "").endswith("/15"):
            import redis

            redis.Redis.from_url(env["REDIS_URL"]).flushdb()  # the queued e-mails of the run
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / started.strftime("%Y%m%dT%H%M%SZ")
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str))
    stem.with_suffix(".md").write_text(markdown(report))
    print_table(report)
    log(f"results: {stem.with_suffix('.json')} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
