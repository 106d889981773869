"""Reports in a real browser: an Operator runs one from the tenant's page and follows its job
to the end on a real worker; alice, the owner, then finds the PDF in her Downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from tenants.models import Tenant
from tests.browser.conftest import (
    SCREENSHOTS,
    Server,
    Staff,
    portal_sign_in,
    staff_sign_in,
)


@pytest.mark.usefixtures("celery_worker")
def test_staff_run_a_report_and_the_owner_downloads_it(
    page: Page, server: Server, operator_staff: Staff, portal_alice: User
) -> None:
    acme = Tenant.objects.get(slug="acme")
    staff_sign_in(page, server, operator_staff)
    page.goto(server.url(f"/admin/tenants/tenant/{acme.pk}/change/"))
    page.get_by_role("link", name="Run a report").click()
    page.screenshot(path=str(SCREENSHOTS / "report-run-form.png"), full_page=True)
    page.get_by_label("Report").select_option(index=0)
    page.get_by_role("button", name="Run the report").click()
    page.wait_for_url("**/admin/jobs/jobrun/*/change/")
    expect(page.get_by_text("Succeeded").first).to_be_visible(timeout=30_000)
    expect(page.get_by_role("link", name="File #")).to_be_visible()  # the PDF it made
    # and the tenant's page lists it on its Reports tab
    page.goto(server.url(f"/admin/tenants/tenant/{acme.pk}/change/"))
    page.get_by_role("link", name="Reports", exact=True).first.click()
    expect(page.get_by_text("Tenant activity,").first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "tenant-reports-tab.png"), full_page=True)
    # and acme's own admin opens on a dashboard listing it
    page.goto(server.url("/admin/t/acme/"))
    expect(page.get_by_role("link", name="Tenant activity,").first).to_be_visible()
    expect(page.locator("#header-inner")).to_contain_text("Acme Corp: dashboard")
    page.screenshot(path=str(SCREENSHOTS / "tenant-dashboard.png"), full_page=True)
    # alice, on acme's domain, finds it in her downloads
    context = page.context.browser.new_context()  # type: ignore[union-attr]
    owner = context.new_page()
    try:
        portal_sign_in(owner, server, acme, portal_alice)
        owner.goto(server.tenant_url(acme, "/downloads/"))
        owner.get_by_text("Run a report", exact=True).first.click()  # opens the form
        owner.get_by_text("Report recipients", exact=True).click()
        owner.screenshot(path=str(SCREENSHOTS / "portal-downloads-report.png"), full_page=True)
        row = owner.locator("tbody tr", has_text="Tenant activity").first
        expect(row).to_be_visible()
        with owner.expect_download() as download:
            row.get_by_text("Download", exact=True).click()
        pdf = download.value
        assert pdf.suggested_filename.endswith(".pdf")
        assert Path(pdf.path()).read_bytes()[:5] == b"%PDF-"
    finally:
        context.close()
