#!/usr/bin/env python3
"""Smoke test of the quick start: `make run` on a fresh clone.

Clones this repository into a temporary folder, runs `make run` there (which
creates the virtual environment, installs, migrates, seeds and starts the web
server and the worker), then checks that /healthz answers, that every demo
account can log in, that the worker delivers a queued e-mail, and that Ctrl-C
(SIGINT to the process group) stops everything. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.cookiejar
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

PORT = int(os.environ.get("SMOKE_PORT", "5077"))
BASE = f"http://127.0.0.1:{PORT}"
DEMO = ["admin@example.org", "clinician@example.org", "therapist@example.org", "partner@example.org"]
PASSWORD = "demo-password-2026"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"  # the documented demo secret of the staff accounts


def totp(secret: str, at: float | None = None) -> str:
    """RFC 6238 code (SHA-1, 6 digits, 30 s), as an authenticator app shows it."""
    key = base64.b32decode(secret)
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def opener() -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())


def fetch(op: urllib.request.OpenerDirector, path: str, data: dict | None = None) -> tuple[int, str, dict]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with op.open(BASE + path, data=body, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace"), dict(error.headers)


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    if not match:
        raise AssertionError("no CSRF token in the page")
    return match.group(1)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)
    print(f"ok - {message}")


def wait_for_health(proc: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"make run exited early with {proc.returncode}")
        try:
            status, body, _ = fetch(opener(), "/healthz")
            if status == 200:
                check(json.loads(body) == {"status": "ok", "database": "ok"}, "/healthz answers ok")
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    raise AssertionError("the server did not answer /healthz in time")


def log_in_each_demo_account() -> None:
    for email in DEMO:
        op = opener()
        _, page, _ = fetch(op, "/login")
        status, _, headers = fetch(op, "/login", {"csrf_token": csrf(page), "email": email, "password": PASSWORD})
        if headers.get("Location", "").endswith("/login/verify"):  # staff: two-step verification
            _, page, _ = fetch(op, "/login/verify")
            status, _, headers = fetch(
                op, "/login/verify", {"csrf_token": csrf(page), "code": totp(DEMO_TOTP_SECRET)}
            )
            check(status == 302, f"{email} passes two-step verification")
        check(status == 302 and headers.get("Location", "").endswith("/dashboard"), f"{email} logs in")
        status, page, headers = fetch(op, "/dashboard")
        if status == 302:  # admins land on the operations dashboard
            status, page, _ = fetch(op, urllib.parse.urlsplit(headers["Location"]).path)
        check(status == 200 and "Log out" in page, f"{email} sees their home page")
        status, _, _ = fetch(op, "/logout", {"csrf_token": csrf(page)})
        check(status == 302, f"{email} logs out")


def worker_delivers_mail(clone: Path) -> None:
    op = opener()
    _, page, _ = fetch(op, "/password/forgot")
    status, _, _ = fetch(op, "/password/forgot", {"csrf_token": csrf(page), "email": DEMO[2]})
    check(status == 200, "password reset requested")
    folder = clone / "instance" / "mail"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any("Reset your password" in p.read_text(errors="replace") for p in folder.glob("*.eml")):
            check(True, "the worker delivered the queued e-mail to instance/mail")
            return
        time.sleep(0.5)
    raise AssertionError("the worker did not deliver the reset e-mail within 30 s")


def main() -> int:
    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="lms-smoke-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "MAIL_", "LMS_"))}
        log = open(Path(tmp) / "make-run.log", "w+")  # noqa: SIM115
        proc = subprocess.Popen(
            ["make", "run", f"PORT={PORT}"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_health(proc, time.monotonic() + 600)
            log_in_each_demo_account()
            worker_delivers_mail(clone)
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
            proc.wait(timeout=30)
            check(True, "Ctrl-C stopped make run")
            leftovers = subprocess.run(["pgrep", "-f", str(clone)], capture_output=True, text=True).stdout.split()
            check(not leftovers, "no web server or worker left running")
        except BaseException:
            log.seek(0)
            print(log.read()[-6000:], file=sys.stderr)
            raise
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()
    print("smoke: make run works on a fresh clone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
