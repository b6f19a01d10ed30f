"""localstripe, a Stripe-compatible server, as a subprocess on a free port (shared helpers)."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask

from lms.extensions import db
from lms.training.models import Course
from lms.training.sync import sync_all

SECRET_KEY = "sk_test_partnerlms"
PUBLISHABLE_KEY = "pk_test_partnerlms"
WEBHOOK_SECRET = "whsec_partnerlms_test"
PRICE_CENTS = 25000
FIXTURE_COURSES = Path(__file__).parent.parent / "training" / "fixtures" / "courses"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def run_localstripe(workdir: Path) -> Iterator[str]:
    """Start ``localstripe --port <free>``; yield its base URL once it answers."""
    port = free_port()
    exe = Path(sys.executable).parent / "localstripe"
    log = (workdir / "localstripe.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603
        [str(exe), "--port", str(port), "--from-scratch"], stdout=log, stderr=log, cwd=workdir
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{base}/js.stripe.com/v3/", timeout=1):  # noqa: S310
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("localstripe did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
        log.close()


def register_webhook(base: str, url: str, name: str = "partner-lms") -> None:
    """localstripe's /_config/webhooks/<name>: deliver every event to ``url``, signed."""
    data = urllib.parse.urlencode({"url": url, "secret": WEBHOOK_SECRET}).encode()
    request = urllib.request.Request(f"{base}/_config/webhooks/{name}", data=data)  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        assert response.status == 200


def stripe_settings(base: str) -> dict[str, Any]:
    return {
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": base,
        "STRIPE_JS_URL": f"{base}/js.stripe.com/v3/",
    }


def card_token(base: str, number: str) -> str:
    """What Stripe.js's createToken(card) does in the browser (publishable key only)."""
    data = urllib.parse.urlencode(
        {
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
            "key": PUBLISHABLE_KEY,
        }
    ).encode()
    request = urllib.request.Request(f"{base}/v1/tokens", data=data)  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return str(json.load(response)["id"])


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A Stripe-Signature header as Stripe (and localstripe) computes it."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), b"%d.%s" % (ts, payload), hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def sync_paid_course(app: Flask, folder: Path) -> None:
    """The fixture courses with a price in mini-course's course file."""
    target = folder / "courses"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(FIXTURE_COURSES, target)
    course_file = target / "mini-course" / "course.toml"
    text = course_file.read_text().replace("price_cents = 0", f"price_cents = {PRICE_CENTS}")
    course_file.write_text(text)
    app.config["COURSES_PATH"] = str(target)
    with app.app_context():
        _results, problems = sync_all(target)
        assert problems == []
        db.session.commit()
        course = db.session.query(Course).filter_by(slug="mini-course").one()
        assert course.price_cents == PRICE_CENTS
