"""Owners download their backups decrypted, streamed; a destroyed key refuses the download."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from accounts.models import User
from artifacts.models import DownloadEvent
from artifacts.serving import repr_digest
from backups import age
from backups.keys import tenant_key_destroy
from backups.services import backup_create, backup_open
from tenants.models import Tenant
from tests.helpers import portal_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("artifacts_root")]


def test_an_owner_downloads_the_encrypted_backup_decrypted(
    acme: Tenant, alice: User, settings: Any
) -> None:
    settings.BACKUP_PLATFORM_KEY = age.identity_generate()
    backup = backup_create(acme, kind="manual")
    assert backup.encrypted and backup.artifact is not None
    with backup_open(backup) as plain:
        archive = plain.read()
    # A Range is not honoured for a decrypted download: the whole archive, 200.
    response = portal_client(acme, alice).get(
        f"/downloads/file/{backup.artifact.pk}", HTTP_RANGE="bytes=10-"
    )
    assert response.status_code == 200 and response.streaming
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert body == archive and body.startswith(b"\x28\xb5\x2f\xfd")  # zstd, not age
    assert response["Content-Length"] == str(len(archive))
    assert response["Repr-Digest"] == repr_digest(hashlib.sha256(archive).hexdigest())
    assert response["Accept-Ranges"] == "none"
    assert response["Content-Disposition"].endswith('.tar.zst"')
    event = DownloadEvent.objects.get()
    assert (event.outcome, event.bytes_sent, event.reason) == ("sent", len(archive), "decrypted")

    tenant_key_destroy(acme)
    refused = portal_client(acme, alice).get(f"/downloads/file/{backup.artifact.pk}")
    assert refused.status_code == 404 and not refused.streaming
    assert DownloadEvent.objects.order_by("-id")[0].reason == "the backup key of acme was destroyed"


def test_a_cleartext_backup_downloads_as_stored(acme: Tenant, alice: User) -> None:
    backup = backup_create(acme, kind="manual")
    assert not backup.encrypted and backup.artifact is not None
    response = portal_client(acme, alice).get(f"/downloads/file/{backup.artifact.pk}")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert hashlib.sha256(body).hexdigest() == backup.artifact.sha256
