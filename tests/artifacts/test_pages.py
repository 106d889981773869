"""The portal's Downloads page and home, share links made from the portal, the admin's
artifact list, download and share link actions, and the demo data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from artifacts.models import Artifact, DownloadEvent, ShareLink
from backoffice.models import AuditEntry
from backups.models import Backup
from tenants.models import Membership, Tenant
from tests.helpers import artifact_make, make_user, portal_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def dave(acme: Tenant) -> User:
    user = make_user("dave")
    Membership.objects.create(user=user, tenant=acme, role=Membership.Role.MEMBER)
    return user


def test_the_downloads_page_lists_what_the_member_may_see(
    artifacts_root: Path, acme: Tenant, globex: Tenant, alice: User, dave: User
) -> None:
    artifact_make(acme, title="Usage report")
    artifact_make(acme, kind="export", title="Members export", filename="m.csv")
    artifact_make(globex, title="Globex report")
    owner_page = portal_client(acme, alice).get("/downloads/").content.decode()
    member_page = portal_client(acme, dave).get("/downloads/").content.decode()
    assert "Usage report" in owner_page and "Members export" in owner_page
    assert "Usage report" in member_page and "Members export" not in member_page
    assert "Globex report" not in owner_page
    # Owners see share links and the tenant's downloads; members do not.
    assert "Recent downloads" in owner_page and "Recent downloads" not in member_page
    filtered = portal_client(acme, alice).get("/downloads/?kind=export").content.decode()
    assert "Members export" in filtered and "Usage report" not in filtered


def test_dates_are_in_the_tenants_zone_and_home_lists_recent(
    artifacts_root: Path, acme: Tenant, alice: User
) -> None:
    import datetime as dt

    artifact = artifact_make(acme, title="Night report")
    Artifact.objects.filter(pk=artifact.pk).update(
        created_at=dt.datetime(2026, 1, 10, 23, 30, tzinfo=dt.UTC)
    )
    page = portal_client(acme, alice).get("/downloads/").content.decode()
    assert "11 Jan 2026, 00:30" in page  # Europe/Paris
    home = portal_client(acme, alice).get("/").content.decode()
    assert "Night report" in home and f"/downloads/file/{artifact.pk}" in home
    assert "Nothing to download yet" not in home


def test_an_owner_makes_a_link_sees_it_once_and_revokes_it(
    artifacts_root: Path, acme: Tenant, alice: User
) -> None:
    artifact = artifact_make(acme, b"shared bytes", title="Shared")
    client = portal_client(acme, alice)
    page = client.post(f"/downloads/{artifact.pk}/share/", {"days": "3", "max_uses": "2"})
    url = re.search(r'value="(https?://acme\.localhost/s/[^"]+)"', page.content.decode())
    assert page.status_code == 200 and url is not None
    link = ShareLink.objects.get(artifact=artifact)
    token = url.group(1).rsplit("/", 1)[1]
    assert token not in link.token_hash and link.max_uses == 2  # only its hash is kept
    anonymous = Client(HTTP_HOST="acme.localhost")
    got = anonymous.get(f"/s/{token}")
    assert got.status_code == 200 and b"".join(got.streaming_content) == b"shared bytes"  # type: ignore[attr-defined]
    assert "Share link" in client.get("/downloads/").content.decode()
    client.post(f"/downloads/links/{link.pk}/revoke/")
    assert anonymous.get(f"/s/{token}").status_code == 403
    assert AuditEntry.objects.filter(action__startswith="artifact.share_link").count() == 2


def test_a_link_longer_than_7_days_is_refused(
    artifacts_root: Path, acme: Tenant, alice: User
) -> None:
    artifact = artifact_make(acme)
    portal_client(acme, alice).post(f"/downloads/{artifact.pk}/share/", {"days": "30"})
    assert not ShareLink.objects.exists()


def test_a_member_cannot_make_a_link(artifacts_root: Path, acme: Tenant, dave: User) -> None:
    artifact = artifact_make(acme)
    response = portal_client(acme, dave).post(f"/downloads/{artifact.pk}/share/", {"days": "1"})
    assert response.status_code == 403 and not ShareLink.objects.exists()


def test_staff_list_download_and_share_in_the_admin(
    artifacts_root: Path, acme: Tenant, operator_client: Client, viewer_client: Client
) -> None:
    backup = artifact_make(acme, b"backup bytes", kind="backup", title="Nightly backup")
    listing = operator_client.get("/admin/artifacts/artifact/").content.decode()
    assert (
        "Nightly backup" in listing
        and f"/admin/artifacts/artifact/{backup.pk}/download/" in listing
    )
    assert (
        "owners and Operators only"
        in viewer_client.get("/admin/artifacts/artifact/").content.decode()
    )
    response: Any = operator_client.get(f"/admin/artifacts/artifact/{backup.pk}/download/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"backup bytes"
    event = DownloadEvent.objects.get(artifact=backup)
    assert (event.via, event.username, event.outcome) == ("admin", "olga", "sent")
    made = operator_client.post(
        "/admin/artifacts/artifact/",
        {"action": "share_link_make_action", "_selected_action": [backup.pk]},
        follow=True,
    )
    assert re.search(r"https?://acme\.localhost/s/[\w-]+", made.content.decode())
    assert ShareLink.objects.filter(artifact=backup).count() == 1
    # The tenant's page has the Files tab, and the storage used.
    tenant_page = operator_client.get(f"/admin/tenants/tenant/{acme.pk}/change/").content.decode()
    assert "Nightly backup" in tenant_page and "Storage used" in tenant_page
    assert "Stored files" in operator_client.get("/admin/").content.decode()


def test_the_demo_data_has_files_and_a_verified_backup_per_tenant(
    artifacts_root: Path, settings: Any
) -> None:
    settings.DEBUG = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115 (idempotent)
    for slug in ("acme", "globex"):
        kinds = sorted(Artifact.objects.filter(tenant__slug=slug).values_list("kind", flat=True))
        assert kinds == ["backup", "export", "report"]
        [backup] = Backup.objects.filter(tenant__slug=slug)
        assert backup.state == "succeeded" and backup.is_verified
