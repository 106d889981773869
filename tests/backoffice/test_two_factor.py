"""Staff two-factor sign-in: required for superusers and Operators, optional for Viewers,
enrolment with a confirmed code and recovery codes, sign-in with the code or a recovery code,
resets by superusers only; enrolment and resets audited."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from backoffice.models import AuditEntry
from backoffice.roles import OPERATORS
from backoffice.two_factor import recovery_codes_make
from tests.helpers import PASSWORD, host_client, make_user

pytestmark = pytest.mark.django_db


def code(device: TOTPDevice, drift: int = 0) -> str:
    """What the staff member's authenticator app shows (`drift` steps ahead)."""
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits,
                 drift=drift)  # fmt: skip
    return str(value).zfill(device.digits)


def sign_in(username: str, otp_token: str = "") -> Client:
    client = Client(HTTP_HOST="localhost")
    client.post("/admin/login/?next=/admin/", {"username": username, "password": PASSWORD,
                                               "otp_token": otp_token})  # fmt: skip
    return client


def _operator() -> User:
    user = make_user("olga-2fa", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATORS))
    return user


def test_an_operator_without_a_device_must_enrol_before_any_admin_page() -> None:
    operator = _operator()
    client = sign_in(operator.username)
    index = client.get("/admin/")
    assert index.status_code == 302  # not in yet
    assert client.get(index["Location"])["Location"] == "/admin/two-factor/"
    assert client.get("/admin/t/acme/").status_code == 302  # nor any tenant's admin

    page = client.get("/admin/two-factor/")
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=operator, confirmed=False)
    wrong = client.post("/admin/two-factor/", {"token": "000000"})
    assert "That code does not match" in wrong.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # django-otp makes a person wait after a wrong code; a test won't
    done = client.post("/admin/two-factor/", {"token": code(device)})
    recovery = re.findall(r"^[a-z2-7]{8}$", done.content.decode(), flags=re.M)
    assert len(recovery) == 10
    assert client.get("/admin/").status_code == 200  # verified in this session
    assert AuditEntry.objects.filter(action="2fa.enrol", object_repr=operator.username).exists()


def test_signing_in_takes_the_apps_code_or_a_recovery_code_once() -> None:
    operator = _operator()
    device = TOTPDevice.objects.create(user=operator, name="phone", confirmed=True)
    recovery = recovery_codes_make(operator)
    assert sign_in(operator.username).get("/admin/").status_code == 302  # password alone
    assert sign_in(operator.username, code(device, drift=1)).get("/admin/").status_code == 200
    assert sign_in(operator.username, recovery[0]).get("/admin/").status_code == 200
    assert sign_in(operator.username, recovery[0]).get("/admin/").status_code == 302  # used up
    response = Client(HTTP_HOST="localhost").post(
        "/admin/login/", {"username": operator.username, "password": PASSWORD, "otp_token": "123"}
    )
    assert "current code of your authenticator app" in response.content.decode()


def test_the_sign_in_page_asks_for_the_code() -> None:
    page = Client(HTTP_HOST="localhost").get("/admin/login/").content.decode()
    assert 'name="otp_token"' in page and 'autocomplete="one-time-code"' in page


def test_a_viewer_may_sign_in_without_a_second_factor(viewer: User) -> None:
    client = Client(HTTP_HOST="localhost")
    client.post("/admin/login/", {"username": viewer.username, "password": PASSWORD})
    assert client.get("/admin/").status_code == 200


def test_only_a_superuser_resets_someones_two_factor_and_it_is_audited(operator: User) -> None:
    TOTPDevice.objects.create(user=operator, name="lost phone", confirmed=True)
    as_operator = host_client("localhost", operator)
    listing = as_operator.get("/admin/accounts/user/").content.decode()
    assert 'value="two_factor_reset"' not in listing
    boss = make_user("boss", is_staff=True, is_superuser=True)
    response = host_client("localhost", boss).post(
        "/admin/accounts/user/", {"action": "two_factor_reset", "_selected_action": [operator.pk]}
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=operator, name="lost phone").exists()
    entry = AuditEntry.objects.get(action="2fa.reset")
    assert (entry.actor, entry.object_repr) == (boss, operator.username)
