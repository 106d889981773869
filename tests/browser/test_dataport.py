"""Import and export in a real browser: an Operator uploads a members file into acme, sees the
preview with its errors row by row, downloads the failed rows, confirms without them; alice,
acme's owner, asks for the data export on the portal and downloads the zip."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from tenants.models import Membership, Tenant
from tests.browser.conftest import SCREENSHOTS, Server, Staff, portal_sign_in, staff_sign_in

MEMBERS = (
    "email,name,role\n"
    "live-new@example.com,New Member,member\n"
    "not-an-email,Broken Row,member\n"
    "live-alice@example.com,,owner\n"
)


@pytest.mark.usefixtures("artifacts_root")
def test_staff_preview_and_confirm_a_members_import(
    page: Page, server: Server, operator_staff: Staff, portal_alice: User, tmp_path: Path
) -> None:
    portal_alice.email = "live-alice@example.com"
    portal_alice.save()
    upload = tmp_path / "members.csv"
    upload.write_text(MEMBERS)
    staff_sign_in(page, server, operator_staff)
    page.goto(server.url("/admin/t/acme/"))
    page.get_by_role("link", name="Import and export").first.click()
    expect(page.locator("#resources")).to_contain_text("Job history")
    page.screenshot(path=str(SCREENSHOTS / "dataport-transfer.png"), full_page=True)
    page.get_by_role("link", name="Import members…").click()
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("#run-state")).to_have_text("Checked: waiting for confirmation")
    expect(page.locator("#run-counts")).to_contain_text("1 new")
    expect(page.locator("#run-errors")).to_contain_text("“not-an-email” is not an email address.")
    expect(page.locator("#run-preview")).to_contain_text("live-new@example.com")
    page.screenshot(path=str(SCREENSHOTS / "dataport-preview.png"), full_page=True)
    assert not User.objects.filter(email="live-new@example.com").exists()  # nothing yet
    with page.expect_download() as download:
        page.locator("#failed-rows").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows[0] == ["email", "name", "role", "errors"] and rows[1][0] == "not-an-email"
    page.get_by_label("Skip the 1 row with errors").check()
    page.get_by_role("button", name="Confirm the import").click()
    expect(page.locator("#run-state")).to_have_text("Applied")
    page.screenshot(path=str(SCREENSHOTS / "dataport-applied.png"), full_page=True)
    acme = Tenant.objects.get(slug="acme")
    assert Membership.objects.filter(tenant=acme, user__email="live-new@example.com").exists()


@pytest.mark.usefixtures("celery_worker", "artifacts_root")
def test_the_owner_downloads_her_data_export_from_the_portal(
    page: Page, server: Server, portal_alice: User
) -> None:
    acme = Tenant.objects.get(slug="acme")
    portal_sign_in(page, server, acme, portal_alice)
    page.goto(server.tenant_url(acme, "/downloads/"))
    page.get_by_text("Export our data", exact=True).click()  # opens the form
    page.get_by_role("button", name="Make the export").click()
    expect(page.get_by_text("Your data export is being made")).to_be_visible()
    row = page.locator("tbody tr", has_text="Data export of Acme Corp").first
    for _ in range(60):
        if row.count():
            break
        page.wait_for_timeout(250)
        page.reload()
    page.screenshot(path=str(SCREENSHOTS / "dataport-portal-export.png"), full_page=True)
    with page.expect_download() as download:
        row.get_by_text("Download", exact=True).click()
    archive = zipfile.ZipFile(download.value.path())
    assert "manifest.json" in archive.namelist()
    assert (
        "live-alice" in archive.read("members.csv").decode()
        or "alice@example.com" in archive.read("members.csv").decode()
    )
