"""The storage backends: local files, and S3 against a real S3-compatible server (moto)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lms.storage import LocalStorage, S3Storage, StorageError, build_storage

MOTO = shutil.which("moto_server") or str(Path(__file__).parents[2] / ".venv/bin/moto_server")


def test_local_storage_round_trip_under_random_names(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    key = store.save(b"%PDF-1.4 hello", "application/pdf")
    assert len(key) == 32 and int(key, 16) >= 0
    assert store.read(key) == b"%PDF-1.4 hello"
    assert (tmp_path / key[:2] / key).is_file()
    store.delete(key)
    with pytest.raises(StorageError):
        store.read(key)


@pytest.mark.parametrize("key", ["../../etc/passwd", "a" * 31, "", "A" * 32, "../" + "a" * 29])
def test_local_storage_refuses_anything_but_its_own_keys(tmp_path: Path, key: str) -> None:
    with pytest.raises(StorageError):
        LocalStorage(tmp_path).read(key)


def test_the_backend_follows_the_settings(tmp_path: Path) -> None:
    local = build_storage({"STORAGE_BACKEND": "local", "UPLOAD_FOLDER": str(tmp_path)})
    assert isinstance(local, LocalStorage)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    # moto[server] is a declared test dependency: a missing server is a broken install, not a skip.
    assert Path(MOTO).exists(), "moto_server is missing: run `make test` (installs '.[test]')"
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own test server
        [MOTO, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url + "/moto-api/", timeout=1):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_s3_storage_against_a_real_s3_server(s3_endpoint: str, monkeypatch) -> None:
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket="lms-docs"
    )
    store = build_storage(
        {
            "STORAGE_BACKEND": "s3",
            "S3_BUCKET": "lms-docs",
            "S3_ENDPOINT_URL": s3_endpoint,
            "S3_REGION": "us-east-1",
            "S3_PREFIX": "uploads/",
        }
    )
    assert isinstance(store, S3Storage)
    key = store.save(b"\x89PNG\r\n\x1a\nimage", "image/png")
    assert store.read(key) == b"\x89PNG\r\n\x1a\nimage"
    head = store.client.head_object(Bucket="lms-docs", Key=f"uploads/{key}")
    assert head["ContentType"] == "image/png"
    store.delete(key)
    with pytest.raises(StorageError):
        store.read(key)
    with pytest.raises(StorageError):
        store.read("../" + key[3:])


def test_s3_needs_a_bucket_and_backends_are_named() -> None:
    from lms.config import ConfigError, load_config, validate

    with pytest.raises(ConfigError, match="S3_BUCKET"):
        validate(load_config({"STORAGE_BACKEND": "s3"}, environ={}))
    with pytest.raises(ConfigError, match="STORAGE_BACKEND"):
        validate(load_config({"STORAGE_BACKEND": "ftp"}, environ={}))
    settings = load_config(
        None, environ={"STORAGE_BACKEND": "S3", "S3_BUCKET": "b", "UPLOAD_MAX_BYTES": "5"}
    )
    validate(settings)
    assert settings["STORAGE_BACKEND"] == "s3" and settings["UPLOAD_MAX_BYTES"] == 5


def test_an_upload_through_the_app_lands_in_s3(
    app, client, login, make_user, s3_endpoint: str, monkeypatch
) -> None:
    import boto3
    from sqlalchemy import select

    from lms.extensions import db
    from lms.licensure.demo import tiny_pdf
    from lms.licensure.models import Document
    from tests.licensure.conftest import submit_license

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket="lms-app"
    )
    s3 = S3Storage("lms-app", endpoint_url=s3_endpoint, region="us-east-1")
    monkeypatch.setitem(app.extensions, "lms.storage", s3)
    login(make_user("therapist"))
    assert submit_license(client).status_code == 302
    doc = db.session.scalars(select(Document)).one()
    assert s3.read(doc.storage_key) == tiny_pdf()
    response = client.get(f"/licensure/documents/{doc.id}")
    assert response.status_code == 200 and response.data == tiny_pdf()
