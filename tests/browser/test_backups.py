"""Backups in a real browser, on a real worker: an Operator backs acme up from its page,
verifies the backup, restores it, and restores it as a new tenant; alice, acme's owner, then
downloads the backup from her portal, and it holds acme's data and nothing of globex."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from playwright.sync_api import Page, expect

from accounts.models import User
from backups.models import Backup, Restore
from tenants.models import Tenant
from tenants.provisioning import schema_drop
from tests.browser.conftest import (
    SCREENSHOTS,
    Server,
    Staff,
    portal_sign_in,
    staff_sign_in,
)

SUCCEEDED_S = 60_000


@pytest.fixture
def copy_cleanup() -> Iterator[None]:
    yield
    for tenant in Tenant.objects.filter(slug="acme-copy"):
        schema_drop(tenant.schema_name)
        Restore.objects.filter(target=tenant).delete()
        tenant.domains.all().delete()
        tenant.delete()


def _job_succeeds(page: Page) -> None:
    page.wait_for_url("**/admin/jobs/jobrun/*/change/")
    expect(page.get_by_text("Succeeded").first).to_be_visible(timeout=SUCCEEDED_S)


@pytest.mark.usefixtures("celery_worker", "copy_cleanup")
def test_staff_back_up_verify_restore_and_copy_acme_and_the_owner_downloads_it(
    page: Page, server: Server, operator_staff: Staff, portal_alice: User
) -> None:
    acme = Tenant.objects.get(slug="acme")
    staff_sign_in(page, server, operator_staff)
    page.goto(server.url(f"/admin/tenants/tenant/{acme.pk}/change/"))
    page.get_by_role("link", name="Back up now").click()
    _job_succeeds(page)
    backup = Backup.objects.get(tenant=acme, kind="manual")

    # Its page, from the tenant's Backups tab; verify it.
    page.goto(server.url(f"/admin/tenants/tenant/{acme.pk}/change/"))
    page.get_by_role("link", name="Backups", exact=True).first.click()
    page.screenshot(path=str(SCREENSHOTS / "tenant-backups-tab.png"), full_page=True)
    page.locator("#backup-group a").first.click()
    page.get_by_role("link", name="Verify").click()
    _job_succeeds(page)
    backup.refresh_from_db()
    assert backup.is_verified and backup.verify_duration_s is not None

    # Restore it into acme (the slug typed), then as a new tenant.
    page.goto(server.url(f"/admin/backups/backup/{backup.pk}/change/"))
    page.screenshot(path=str(SCREENSHOTS / "backup-page.png"), full_page=True)
    page.get_by_role("link", name="Restore…").click()
    page.screenshot(path=str(SCREENSHOTS / "backup-restore-confirm.png"), full_page=True)
    page.get_by_label("Type acme to confirm").fill("acme")
    page.get_by_role("button", name="Restore").click()
    _job_succeeds(page)
    restore = Restore.objects.get(backup=backup, as_new=False)
    assert restore.state == "succeeded" and restore.safety_backup is not None

    page.goto(server.url(f"/admin/backups/backup/{backup.pk}/change/"))
    page.get_by_role("link", name="Restore as a new tenant…").click()
    page.get_by_label("Slug").fill("acme-copy")
    page.get_by_label("Name").fill("Acme staging copy")
    page.get_by_role("button", name="Make the new tenant").click()
    _job_succeeds(page)
    copy = Tenant.objects.get(slug="acme-copy")
    assert copy.status == Tenant.Status.ACTIVE and copy.schema_name != acme.schema_name

    page.goto(server.url("/admin/backups/backupoverview/"))
    expect(page.get_by_text("Acme Corp").first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "backups-overview.png"), full_page=True)
    page.goto(server.url("/admin/"))
    card = page.locator("div", has_text="of backups kept").last
    expect(card).to_be_visible()
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "dashboard-backups-card.png"))

    # alice downloads the backup from acme's portal: acme's rows, nothing of globex.
    context = page.context.browser.new_context()  # type: ignore[union-attr]
    owner = context.new_page()
    try:
        portal_sign_in(owner, server, acme, portal_alice)
        owner.goto(server.tenant_url(acme, "/downloads/?kind=backup"))
        owner.get_by_text("Back up now", exact=True).first.click()  # opens the form
        owner.screenshot(path=str(SCREENSHOTS / "portal-downloads-backups.png"), full_page=True)
        row = owner.locator("tbody tr", has_text="On-demand backup").first
        with owner.expect_download() as download:
            row.get_by_text("Download", exact=True).click()
        data = Path(download.value.path()).read_bytes()
    finally:
        context.close()
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        assert "manifest.json" in tar.getnames()
    assert b"sessions-cleanup-daily" in raw  # acme's schedules are in it
    assert b"globex" not in raw.lower()
