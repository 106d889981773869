"""Downloads in a real browser: alice downloads a file from her portal; an Operator makes a
share link in the admin, it works in a fresh browser (no session), then is revoked and refused."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from artifacts.models import DownloadEvent, ShareLink
from tenants.models import Tenant
from tests.browser.conftest import SCREENSHOTS, Server, Staff, portal_sign_in, staff_sign_in
from tests.helpers import artifact_make

BODY = "day,jobs\n" + "".join(f"{d},{d * 3}\n" for d in range(1, 31))


def _acme() -> Tenant:
    return Tenant.objects.get(slug="acme")


def _download_in_fresh_browser(browser: Browser, server: Server, url: str) -> bytes:
    """Follow `url` in a new context (no cookies), from a page of the tenant's domain."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.tenant_url(_acme(), "/accounts/login/"))
        with page.expect_download() as info:
            page.evaluate("url => { const a = document.createElement('a'); a.href = url;"
                          " document.body.append(a); a.click(); }", url)  # fmt: skip
        return Path(info.value.path()).read_bytes()
    finally:
        context.close()


def test_alice_downloads_from_the_portal(
    page: Page, server: Server, portal_alice: User, artifacts_root: Path
) -> None:
    acme = _acme()
    artifact_make(acme, BODY.encode(), title="Usage, last 30 days", filename="usage-été.csv")
    artifact_make(acme, b"x" * 4096, kind="export", title="Members export", filename="m.csv")
    portal_sign_in(page, server, acme, portal_alice)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Downloads").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Downloads")
    row = page.get_by_role("row").filter(has_text="Usage, last 30 days")
    expect(row).to_contain_text("Report")
    with page.expect_download() as info:
        row.get_by_role("button", name="Download").click()
    download = info.value
    assert download.suggested_filename == "usage-été.csv"
    assert Path(download.path()).read_text() == BODY
    page.reload()  # the owner's audit now lists it
    expect(page.get_by_role("region", name="Recent downloads")).to_contain_text("live-alice")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "portal-downloads.png"), full_page=True)
    event = DownloadEvent.objects.get(artifact__title="Usage, last 30 days")
    assert (event.outcome, event.bytes_sent) == ("sent", len(BODY.encode()))


def test_an_operator_shares_a_link_then_revokes_it(
    page: Page, browser: Browser, server: Server, operator_staff: Staff, artifacts_root: Path
) -> None:
    artifact_make(_acme(), BODY.encode(), kind="backup", title="Nightly backup",
                  filename="acme.dump")  # fmt: skip
    staff_sign_in(page, server, operator_staff)
    page.goto(server.url("/admin/artifacts/artifact/"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "admin-artifacts.png"), full_page=True)
    page.get_by_role("row").filter(has_text="Nightly backup").locator("input.action-select").check()
    page.locator("select[name=action]").select_option("share_link_make_action")
    page.get_by_role("button", name="Run").click()
    url = page.locator("code.share-url").inner_text()
    # The link as staff copy it: on acme's own domain (here: the live server's port).
    assert url.startswith("https://acme.localhost/s/")
    live_url = server.tenant_url(_acme(), url.split("acme.localhost", 1)[1])

    assert _download_in_fresh_browser(browser, server, live_url) == BODY.encode()

    page.goto(server.url("/admin/artifacts/sharelink/"))
    page.get_by_role("row").filter(has_text="Nightly backup").locator("input.action-select").check()
    page.locator("select[name=action]").select_option("revoke")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("1 link(s) revoked.")).to_be_visible()
    assert ShareLink.objects.get().revoked_at is not None

    fresh = browser.new_context()
    try:
        refused = fresh.new_page().goto(live_url)
        assert refused is not None and refused.status == 403
    finally:
        fresh.close()
    outcomes = list(DownloadEvent.objects.order_by("id").values_list("via", "outcome", "reason"))
    assert outcomes == [("link", "sent", ""), ("link", "forbidden", "link revoked")]
