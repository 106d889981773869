"""The `artifacts` storage on S3: django-storages against moto's standalone S3 server, started
here as a subprocess on a free port (a real HTTP endpoint, not a patched client)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from accounts.models import User
from artifacts.models import DownloadEvent
from artifacts.services import artifact_write
from artifacts.storage import artifact_storage
from artifacts.upkeep import artifacts_expire, artifacts_scrub
from tenants.models import Tenant
from tests.helpers import artifact_make, free_port, portal_client

pytestmark = pytest.mark.django_db
BUCKET = "artifacts-test"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_storage(moto_endpoint: str, settings: Any) -> str:
    import boto3

    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    options = {
        "bucket_name": BUCKET, "endpoint_url": moto_endpoint, "region_name": "us-east-1",
        "access_key": "testing", "secret_key": "testing", "addressing_style": "path",
        "default_acl": None, "file_overwrite": False, "querystring_expire": 60,
        "signature_version": "s3v4",
    }  # fmt: skip
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    settings.ARTIFACTS_X_ACCEL_LOCATION = "/ignored-on-s3/"
    return moto_endpoint


def test_it_writes_streaming_to_s3_and_presigns_after_the_checks(
    s3_storage: str, acme: Tenant, alice: User
) -> None:
    chunks = [os.urandom(1024 * 1024) for _ in range(6)]  # 6 MB: a multipart upload
    artifact = artifact_write(tenant=acme, kind="report", title="Über report",
                              filename="Über report.pdf", content=iter(chunks))  # fmt: skip
    body = b"".join(chunks)
    assert artifact.sha256 == hashlib.sha256(body).hexdigest()
    assert artifact_storage().size(artifact.storage_key) == len(body)

    response = portal_client(acme, alice).get(f"/downloads/file/{artifact.pk}")
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = response["Location"]
    assert location.startswith(f"{s3_storage}/{BUCKET}/{artifact.storage_key}?")
    assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == ["60"]
    with urllib.request.urlopen(location) as fetched:
        assert fetched.read() == body
        assert "filename*=UTF-8''%C3%9Cber%20report.pdf" in fetched.headers["Content-Disposition"]
    # The presigned URL resumes with Range like any S3 object.
    ranged = urllib.request.Request(location, headers={"Range": "bytes=10-19"})
    with urllib.request.urlopen(ranged) as fetched:
        assert fetched.status == 206 and fetched.read() == body[10:20]
    event = DownloadEvent.objects.get(artifact=artifact)
    assert (event.outcome, event.reason) == ("handed_off", "presigned URL")


def test_a_missing_object_is_refused_before_any_url(
    s3_storage: str, acme: Tenant, alice: User
) -> None:
    artifact = artifact_make(acme, b"soon gone")
    artifact_storage().delete(artifact.storage_key)
    response = portal_client(acme, alice).get(f"/downloads/file/{artifact.pk}")
    assert response.status_code == 404 and "Location" not in response
    artifact.refresh_from_db()
    assert artifact.problem == "file missing"
    assert DownloadEvent.objects.get(artifact=artifact).outcome == "unavailable"


def test_scrub_and_retention_on_s3(s3_storage: str, acme: Tenant) -> None:
    import datetime as dt

    from django.utils import timezone

    kept = artifact_make(acme, b"kept bytes")
    old = artifact_make(acme, b"old bytes", expires_at=timezone.now() - dt.timedelta(days=1))
    assert artifacts_expire() == 1
    assert not artifact_storage().exists(old.storage_key)
    assert artifact_storage().exists(kept.storage_key)
    assert artifacts_scrub() == {"checked": 1, "flagged": 0}
