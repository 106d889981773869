"""Backups across tenants: acme's archive holds nothing of globex, and globex's people cannot
download acme's backup (issue 13, item 8)."""

from __future__ import annotations

from typing import Any

import pytest
import zstandard

from artifacts.models import DownloadEvent
from backups import age
from backups.models import Backup
from backups.services import backup_create
from tenants.models import Membership, Tenant
from tests.helpers import make_user, portal_client, session_make


@pytest.mark.usefixtures("live_db", "artifacts_root")
def test_a_backup_of_acme_contains_nothing_of_globex() -> None:
    acme, globex = Tenant.objects.get(slug="acme"), Tenant.objects.get(slug="globex")
    session_make("acme", user_agent="acme-marker-agent")
    session_make("globex", user_agent="globex-marker-agent")
    backup = backup_create(acme, kind="manual")
    assert backup.state == Backup.State.SUCCEEDED, backup.error
    assert backup.artifact is not None and backup.artifact.tenant_id == acme.pk
    raw = _plain(backup)
    assert b"acme-marker-agent" in raw
    assert b"globex" not in raw.lower()
    assert backup.manifest["schema"] == "acme"
    assert {t["name"] for t in backup.manifest["tables"]} >= {"usersessions_session"}
    assert backup.manifest["tenant"] == {"id": acme.pk, "slug": "acme", "name": "Acme Corp"}
    assert globex.schema_name not in backup.manifest["schema"]


def _plain(backup: Backup) -> bytes:
    from backups.services import backup_open

    with backup_open(backup) as stream:
        return zstandard.ZstdDecompressor().stream_reader(stream).read()


@pytest.mark.django_db
@pytest.mark.usefixtures("artifacts_root")
def test_globexs_owner_cannot_download_acmes_backup(
    acme: Tenant, globex: Tenant, settings: Any
) -> None:
    settings.BACKUP_PLATFORM_KEY = age.identity_generate()
    backup = backup_create(acme, kind="manual")
    assert backup.encrypted and backup.artifact is not None
    owner = make_user("gina")
    Membership.objects.create(user=owner, tenant=globex, role=Membership.Role.OWNER)
    for tenant in (globex, acme):  # on her own domain, and on acme's, where she is no member
        response = portal_client(tenant, owner).get(f"/downloads/file/{backup.artifact.pk}")
        assert response.status_code in (403, 404) and not response.streaming
    event = DownloadEvent.objects.order_by("id").first()
    assert event is not None and event.outcome == "not_found"
    assert event.reason == "another tenant's artifact"
