"""Signing in, as people do it: staff with their second factor, tenant users on their domain."""

from __future__ import annotations

import base64

from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from accounts.models import User
from backoffice.roles import OPERATORS
from tenants.models import Tenant
from tests.browser.conftest import Server, Staff, live_staff, portal_sign_in, staff_sign_in


def test_an_operator_signs_in_with_username_password_and_authenticator_code(
    page: Page, server: Server, operator_staff: Staff
) -> None:
    staff_sign_in(page, server, operator_staff)
    expect(page).to_have_url(server.url("/admin/"))
    expect(
        page.locator("#content").get_by_role("heading", name="Platform dashboard")
    ).to_be_visible()


def test_an_operator_without_the_code_is_not_let_in(
    page: Page, server: Server, operator_staff: Staff
) -> None:
    staff_sign_in(page, server, Staff(operator_staff.user, device=None))
    expect(page).to_have_url(server.url("/admin/login/"))
    expect(page.get_by_text("authenticator", exact=False).first).to_be_visible()


def test_a_tenant_user_signs_in_on_the_tenant_domain_and_sees_their_sessions(
    page: Page, server: Server, portal_alice: User
) -> None:
    acme = Tenant.objects.get(slug="acme")
    portal_sign_in(page, server, acme, portal_alice)
    expect(page.get_by_role("heading", name="Acme Corp")).to_be_visible()
    page.get_by_role("link", name="Sessions").click()
    expect(page.get_by_role("heading", name="Your sessions")).to_be_visible()
    expect(page.get_by_text("This session")).to_be_visible()


def test_alice_is_refused_on_globex(page: Page, server: Server, portal_alice: User) -> None:
    globex = Tenant.objects.get(slug="globex")
    portal_sign_in(page, server, globex, portal_alice)
    expect(page).to_have_url(server.tenant_url(globex, "/accounts/login/"))
    # The same words as a wrong password: the page does not tell who is a member where.
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()


def test_an_operator_without_an_authenticator_enrols_at_first_sign_in(
    page: Page, server: Server
) -> None:
    olga = live_staff("olga", OPERATORS, enrolled=False)
    staff_sign_in(page, server, olga)
    expect(page).to_have_url(server.url("/admin/two-factor/"))
    secret = page.locator("#totp-secret").inner_text().strip()
    code = TOTP(base64.b32decode(secret + "=" * (-len(secret) % 8))).token()
    page.get_by_label("Code from the app").fill(f"{code:06d}")
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_text("Two-factor sign-in is on")).to_be_visible()
    expect(page.get_by_label("Recovery codes")).not_to_be_empty()
    page.get_by_role("link", name="Continue to the admin").click()
    expect(
        page.locator("#content").get_by_role("heading", name="Platform dashboard")
    ).to_be_visible()
