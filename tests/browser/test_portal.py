"""The tenant portal in a real browser: home, sessions, members; and axe-core on every page,
with no violation of impact "serious" or "critical" (contrast, labels, landmarks, names).

axe-core is tests/browser/vendor/axe.min.js (from npm: `make assets`). Besides each test's final
screenshot, the pages checked are kept as .artifacts/screenshots/portal-<page>.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core import mail
from playwright.sync_api import Page, expect

from accounts.models import User
from tenants.models import Membership, Tenant
from tests.browser.conftest import SCREENSHOTS, Server, live_user, portal_sign_in
from tests.helpers import session_make

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
BLOCKING = ("serious", "critical")


def axe_check(page: Page, name: str) -> None:
    """Run axe-core on the page as it is now; fail on any serious or critical violation."""
    page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = page.evaluate("async () => await axe.run()")
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results["violations"]
        if v["impact"] in BLOCKING
    ]
    assert blocking == [], f"{name}: " + "; ".join(blocking)
    assert results["passes"], f"{name}: axe checked nothing"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"portal-{name}.png"), full_page=True)


def _acme() -> Tenant:
    return Tenant.objects.get(slug="acme")


def test_home_shows_the_tenant_the_role_and_an_empty_downloads_section(
    page: Page, server: Server, portal_alice: User
) -> None:
    portal_sign_in(page, server, _acme(), portal_alice)
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Corp")
    expect(page.locator(".badge-owner")).to_have_text("Owner")
    downloads = page.get_by_role("region", name="Your reports and downloads")
    expect(downloads.get_by_role("heading", name="Nothing to download yet")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Home", "Sessions", "Password", "Members"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Home", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    # The skip link is the first stop of the keyboard and shows when focused.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_home_fits_a_narrow_screen(page: Page, server: Server, portal_alice: User) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    portal_sign_in(page, server, _acme(), portal_alice)
    expect(page.get_by_role("heading", name="Nothing to download yet")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll


def test_a_member_sees_no_members_link_and_is_refused_the_page(page: Page, server: Server) -> None:
    acme = _acme()
    member = live_user("mia")
    Membership.objects.create(user=member, tenant=acme, role=Membership.Role.MEMBER)
    portal_sign_in(page, server, acme, member)
    expect(page.locator(".badge-member")).to_have_text("Member")
    expect(page.get_by_role("link", name="Members", exact=True)).to_have_count(0)
    response = page.goto(server.tenant_url(acme, "/members/"))
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Only owners can open this page")).to_be_visible()


def test_the_sessions_page_lists_and_ends_another_session(
    page: Page, server: Server, portal_alice: User
) -> None:
    session_make("acme", portal_alice, user_agent="Old-Tablet/3", ip="192.0.2.77")
    portal_sign_in(page, server, _acme(), portal_alice)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sessions").click()
    expect(page.get_by_role("heading", name="Your sessions")).to_be_visible()
    expect(page.get_by_text("This session")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Signed in (Europe/Paris)")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Old-Tablet/3")
    expect(row).to_contain_text("192.0.2.77")
    row.get_by_role("button", name="End").click()
    expect(page.get_by_role("status")).to_have_text("1 session ended.")
    expect(page.get_by_text("Old-Tablet/3")).to_have_count(0)


def test_an_owner_invites_someone_and_makes_them_an_owner(
    page: Page, server: Server, portal_alice: User
) -> None:
    portal_sign_in(page, server, _acme(), portal_alice)
    page.get_by_role("link", name="Members", exact=True).click()
    expect(page.get_by_role("heading", name="Members", level=1)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="alice@example.com")).to_contain_text("(you)")

    invite = page.get_by_role("form", name="Invite someone")
    invite.get_by_label("Email address").fill("live-nina@example.com")
    invite.get_by_label("Role").select_option("member")
    invite.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("live-nina@example.com is now a member.")
    row = page.get_by_role("row").filter(has_text="live-nina@example.com")
    expect(row.get_by_role("combobox")).to_have_value("member")
    expect(row).to_contain_text("Never")
    assert [m.to for m in mail.outbox] == [["live-nina@example.com"]]
    assert "://acme.localhost/accounts/password/reset/" in str(mail.outbox[0].body)

    row.get_by_label("Role of live-nina@example.com", exact=True).select_option("owner")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("live-nina@example.com is now an owner.")
    nina = Membership.objects.get(tenant__slug="acme", user__email="live-nina@example.com")
    assert nina.role == Membership.Role.OWNER
    assert Membership.objects.filter(user=nina.user).count() == 1


def test_every_portal_page_has_no_serious_accessibility_violation(
    page: Page, server: Server, portal_alice: User
) -> None:
    acme = _acme()
    other = live_user("otto")
    other_membership = Membership.objects.create(user=other, tenant=acme)
    session_make("acme", portal_alice, user_agent="Old-Tablet/3")

    # Signed out: sign-in (as it opens, then refused), password reset and its steps.
    page.goto(server.tenant_url(acme, "/accounts/login/"))
    axe_check(page, "signin")
    page.get_by_label("Username").fill(portal_alice.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username")
    axe_check(page, "signin-error")
    page.get_by_role("link", name="Forgot your password?").click()
    axe_check(page, "password-reset")
    page.get_by_label("Email").fill(portal_alice.email)
    page.get_by_role("button", name="Send link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    axe_check(page, "password-reset-sent")
    link = next(line for line in str(mail.outbox[-1].body).splitlines() if "/reset/" in line)
    page.goto(server.tenant_url(acme, link.split("acme.localhost", 1)[1]))
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    axe_check(page, "password-reset-confirm")

    # Signed in: every page an owner can open, forms with their errors too.
    portal_sign_in(page, server, acme, portal_alice)
    axe_check(page, "home")
    page.goto(server.tenant_url(acme, "/accounts/sessions/"))
    axe_check(page, "sessions")
    page.goto(server.tenant_url(acme, "/accounts/password/change/"))
    axe_check(page, "password-change")
    page.get_by_label("Old password").fill("wrong")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_contain_text("Your old password was entered incorrectly")
    axe_check(page, "password-change-error")
    page.goto(server.tenant_url(acme, "/members/"))
    axe_check(page, "members")
    page.get_by_label("Email address").fill("not-an-address")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter a valid email address")
    expect(page.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")
    axe_check(page, "members-error")
    page.goto(server.tenant_url(acme, f"/members/{other_membership.pk}/remove/"))
    axe_check(page, "member-remove")
    page.get_by_role("button", name="Remove otto@example.com").click()
    expect(page.get_by_role("status")).to_have_text(
        "otto@example.com was removed; 0 sessions ended."
    )
    axe_check(page, "members-removed")


def test_a_tenant_being_restored_shows_its_maintenance_page(
    page: Page, server: Server, portal_alice: User
) -> None:
    acme = _acme()
    portal_sign_in(page, server, acme, portal_alice)
    Tenant.objects.filter(pk=acme.pk).update(status=Tenant.Status.RESTORING)
    response = page.goto(server.tenant_url(acme, "/downloads/"))
    assert response is not None and response.status == 503
    expect(page.get_by_role("heading", level=1)).to_have_text("Down for maintenance")
    expect(page.get_by_role("main")).to_contain_text("being restored from a backup")
    axe_check(page, "maintenance")
