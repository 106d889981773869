"""Browser tests: Playwright for Python driving a real Chromium against a live server.

The server is Django's LiveServerThread on 127.0.0.1, serving the test database; Chromium
resolves `*.localhost` to it, so tenant domains (acme.localhost) route as in production. Data
is committed (the server thread has its own connection) and cleaned by `live_db`. The browser
comes from scripts/suite_tools.py (`make test` runs it first): a missing browser is an error, never
a skip. Each test leaves a screenshot of its final page in .artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, Page, sync_playwright

from accounts.models import User
from backoffice.roles import OPERATORS, VIEWERS
from scripts.suite_tools import tool_path
from tenants.models import Membership, Tenant
from tests.helpers import PASSWORD, live_server

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@dataclass(frozen=True)
class Server:
    port: int

    def url(self, path: str = "/", host: str = "localhost") -> str:
        return f"http://{host}:{self.port}{path}"

    def tenant_url(self, tenant: Tenant, path: str = "/") -> str:
        return self.url(path, host=tenant.primary_domain)


@pytest.fixture(scope="session")
def server(django_db_setup: None, django_db_blocker: Any) -> Iterator[Server]:
    with django_db_blocker.unblock(), live_server() as port:
        yield Server(port=port)


@pytest.fixture(autouse=True)
def _committed_data(browser: Browser, live_db: None) -> None:
    """Browser tests write committed rows (the server thread reads them): cleaned around each."""


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop in this thread while it runs; Django refuses
    # ORM calls from such a thread unless told the caller knows (the ORM calls here are
    # fixtures and checks, never inside the loop's callbacks). Only while the browser tests
    # run: the variable must not reach the rest of the suite (`check --deploy` refuses it).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=tool_path("chromium"), args=CHROMIUM_ARGS
            )
            yield launched
            launched.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")  # parameters hold "/"
        opened.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        context.close()


# --- people (committed; live_db removes "live-" users after each test) ----------------------
def live_user(name: str, **flags: bool) -> User:
    user = User(username=f"live-{name}", email=f"{name}@example.com", **flags)
    user.set_password(PASSWORD)
    user.save()
    return user


@dataclass
class Staff:
    user: User
    device: TOTPDevice | None

    def code(self) -> str:
        assert self.device is not None
        value = totp(self.device.bin_key, self.device.step, self.device.t0, self.device.digits,
                     self.device.drift)  # fmt: skip
        return f"{value:0{self.device.digits}d}"


def live_staff(name: str, group: str | None, *, enrolled: bool, superuser: bool = False) -> Staff:
    user = live_user(name, is_staff=True, is_superuser=superuser)
    if group:
        user.groups.add(Group.objects.get(name=group))
    device = (
        TOTPDevice.objects.create(user=user, name="phone", confirmed=True) if enrolled else None
    )
    return Staff(user, device)


@pytest.fixture
def operator_staff() -> Staff:
    return live_staff("olga", OPERATORS, enrolled=True)


@pytest.fixture
def viewer_staff() -> Staff:
    return live_staff("victor", VIEWERS, enrolled=False)


@pytest.fixture
def portal_alice() -> User:
    user = live_user("alice")
    Membership.objects.create(user=user, tenant=Tenant.objects.get(slug="acme"),
                              role=Membership.Role.OWNER)  # fmt: skip
    return user


def staff_sign_in(page: Page, server: Server, staff: Staff) -> None:
    page.goto(server.url("/admin/login/"))
    page.get_by_label("Username").fill(staff.user.username)
    page.get_by_label("Password").fill(PASSWORD)
    if staff.device is not None:
        page.get_by_label("Code").fill(staff.code())
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def portal_sign_in(page: Page, server: Server, tenant: Tenant, user: User) -> None:
    page.goto(server.tenant_url(tenant, "/accounts/login/"))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
