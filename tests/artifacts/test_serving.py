"""Serving an artifact: headers, Range, non-ASCII names, the audit row, streaming checks."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.http import FileResponse

from accounts.models import User
from artifacts.models import Artifact, DownloadEvent
from artifacts.serving import content_disposition, range_parse
from tenants.models import Tenant
from tests.helpers import artifact_make, portal_client

pytestmark = pytest.mark.django_db
BODY = bytes(range(256)) * 40  # 10 240 bytes


def _get(client, artifact: Artifact, **headers: str):  # type: ignore[no-untyped-def]
    response = client.get(f"/downloads/file/{artifact.pk}", **headers)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_it_streams_the_file_with_safe_headers(
    artifacts_root: Path, acme: Tenant, alice: User
) -> None:
    artifact = artifact_make(acme, BODY, filename="report.pdf")
    response, body = _get(portal_client(acme, alice), artifact, HTTP_USER_AGENT="pytest-agent")
    assert response.status_code == 200 and body == BODY
    assert response["Content-Length"] == str(len(BODY))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    digest = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    assert response["Repr-Digest"] == f"sha-256=:{digest}:"
    assert response["Accept-Ranges"] == "bytes"
    event = DownloadEvent.objects.get(artifact=artifact)
    assert (event.outcome, event.bytes_sent, event.username, event.via) == (
        "sent",
        len(BODY),
        "alice",
        "portal",
    )
    assert (event.range_start, event.range_end) == (0, len(BODY) - 1)
    assert event.user_agent == "pytest-agent" and event.ip_address == "127.0.0.1"
    assert event.tenant == acme


def test_a_range_is_served_as_206_and_audited(
    artifacts_root: Path, acme: Tenant, alice: User
) -> None:
    artifact = artifact_make(acme, BODY)
    client = portal_client(acme, alice)
    response, body = _get(client, artifact, HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206 and body == BODY[100:200]
    assert response["Content-Range"] == f"bytes 100-199/{len(BODY)}"
    assert response["Content-Length"] == "100"
    response, body = _get(client, artifact, HTTP_RANGE="bytes=-10")
    assert response.status_code == 206 and body == BODY[-10:]
    response, body = _get(client, artifact, HTTP_RANGE="bytes=10000-")
    assert response.status_code == 206 and body == BODY[10000:]
    events = list(DownloadEvent.objects.filter(artifact=artifact).order_by("id"))
    assert [(e.range_start, e.range_end, e.bytes_sent) for e in events] == [
        (100, 199, 100), (len(BODY) - 10, len(BODY) - 1, 10), (10000, len(BODY) - 1, 240),
    ]  # fmt: skip


def test_an_unsatisfiable_range_is_416_with_no_byte(
    artifacts_root: Path, acme: Tenant, alice: User
) -> None:
    artifact = artifact_make(acme, BODY)
    response, body = _get(portal_client(acme, alice), artifact, HTTP_RANGE=f"bytes={len(BODY)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(BODY)}"
    assert BODY[:16] not in body
    assert DownloadEvent.objects.get(artifact=artifact).outcome == "range_416"


def test_if_range_with_another_etag_gets_the_whole_file(
    artifacts_root: Path, acme: Tenant, alice: User
) -> None:
    artifact = artifact_make(acme, BODY)
    response, body = _get(portal_client(acme, alice), artifact, HTTP_RANGE="bytes=0-9",
                          HTTP_IF_RANGE='"stale"')  # fmt: skip
    assert response.status_code == 200 and body == BODY


@pytest.mark.parametrize(
    ("header", "expected"),
    [("", None), ("bytes=0-0", (0, 0)), ("bytes=5-", (5, 99)), ("bytes=-5", (95, 99)),
     ("bytes=0-10,20-30", None), ("items=0-1", None), ("bytes=50-10", None),
     ("bytes=100-", False), ("bytes=-0", False), ("bytes=90-500", (90, 99))],
)  # fmt: skip
def test_range_parse(header: str, expected: object) -> None:
    assert range_parse(header, 100) == expected


def test_non_ascii_names_are_rfc_6266(artifacts_root: Path, acme: Tenant, alice: User) -> None:
    artifact = artifact_make(acme, BODY, filename='Rapport "été" №5 — Zürich.pdf')
    response, _ = _get(portal_client(acme, alice), artifact)
    assert response["Content-Disposition"] == (
        'attachment; filename="Rapport _ete_ No5  Zurich.pdf"; '
        "filename*=UTF-8''Rapport%20%22%C3%A9t%C3%A9%22%20%E2%84%965%20%E2%80%94%20Z%C3%BCrich.pdf"
    )
    assert content_disposition("日本語.csv").endswith(
        "filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.csv"
    )
    assert content_disposition("日本語.csv").startswith('attachment; filename=".csv"')
    # No header splitting whatever a name holds.
    assert "\r" not in content_disposition("a\r\nSet-Cookie: x=1.txt")


def test_a_checksum_mismatch_while_streaming_is_flagged(
    artifacts_root: Path, acme: Tenant, alice: User
) -> None:
    artifact = artifact_make(acme, BODY)
    # Same size, other bytes: only hashing while streaming (or the scrub) can tell.
    (artifacts_root / artifact.storage_key).write_bytes(bytes(len(BODY)))
    response, body = _get(portal_client(acme, alice), artifact)
    assert response.status_code == 200 and len(body) == len(BODY)
    event = DownloadEvent.objects.get(artifact=artifact)
    assert event.outcome == "checksum_mismatch"
    artifact.refresh_from_db()
    assert artifact.problem == "checksum mismatch while serving"


def test_x_accel_redirect_hands_the_file_to_nginx(
    artifacts_root: Path, acme: Tenant, alice: User, settings: Any
) -> None:
    settings.ARTIFACTS_X_ACCEL_LOCATION = "/_artifacts/"
    artifact = artifact_make(acme, BODY)
    response = portal_client(acme, alice).get(f"/downloads/file/{artifact.pk}")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/_artifacts/{artifact.storage_key}"
    assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
    event = DownloadEvent.objects.get(artifact=artifact)
    assert (event.outcome, event.bytes_sent) == ("handed_off", None)


def test_a_whole_file_on_local_disk_is_handed_to_the_servers_sendfile(
    artifacts_root: Path, acme: Tenant, alice: User, settings: Any
) -> None:
    settings.ARTIFACTS_SENDFILE = True
    artifact = artifact_make(acme, BODY)
    response, body = _get(portal_client(acme, alice), artifact)
    assert isinstance(response, FileResponse)  # gunicorn sends it with os.sendfile
    assert body == BODY and response["Content-Length"] == str(len(BODY))
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"].startswith("attachment;")
    event = DownloadEvent.objects.get(artifact=artifact)
    assert (event.outcome, event.reason) == ("handed_off", "sendfile")
    # a resumed download (Range) is still streamed, counted and audited by Python
    partial, chunk = _get(portal_client(acme, alice), artifact, HTTP_RANGE="bytes=2-5")
    assert partial.status_code == 206 and not isinstance(partial, FileResponse)
    assert chunk == BODY[2:6]
