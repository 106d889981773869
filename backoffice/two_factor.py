"""Two-factor sign-in for staff (TOTP with django-otp, recovery codes as static tokens).

Staff accounts are the keys to every tenant: superusers and Operators must use a second
factor; Viewers may. Someone who must and has no device yet signs in with their password and is
sent to enrol before any admin page opens. The token field of the staff sign-in takes the
6-digit code of their authenticator app or one of their recovery codes (each works once).
Enrolment, new recovery codes and every reset are written to the audit log.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import qrcode
import qrcode.image.svg
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django_otp import devices_for_user, match_token, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice.roles import OPERATORS

RECOVERY_CODES = 10
DEVICE_NAME = "Authenticator app"


def two_factor_required(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Superusers and Operators must sign in with a second factor."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_staff", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return bool(user.groups.filter(name=OPERATORS).exists())  # type: ignore[union-attr]


def two_factor_enrolled(user: Any) -> bool:
    return bool(user_has_device(user, confirmed=True))


def two_factor_verified(user: Any) -> bool:
    """Did this session's sign-in use a second factor? (django-otp's OTPMiddleware adds
    `is_verified` to the request's user.)"""
    return bool(getattr(user, "is_verified", lambda: False)())


def two_factor_satisfied(user: Any) -> bool:
    """May this signed-in staff member use the admin now? Asked by every admin page, several
    times: a verified session answers at once (no query), the rest is worked out once per
    request (kept on the request's user object)."""
    if two_factor_verified(user):
        return True
    optional = getattr(user, "_two_factor_optional", None)
    if optional is None:  # a Viewer who did not enrol may go without
        optional = not two_factor_required(user) and not two_factor_enrolled(user)
        user._two_factor_optional = optional
    return bool(optional)


def token_match(user: Any, token: str) -> Any:
    """The confirmed device that accepts `token` (TOTP code or recovery code), or None."""
    token = "".join(token.split())
    return match_token(user, token) if token else None


def totp_device_pending(user: Any) -> TOTPDevice:
    """The TOTP device being enrolled (made once, unconfirmed until a code from it is typed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def totp_secret(device: TOTPDevice) -> str:
    """The key in base32, for typing into an app by hand."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def totp_qr_svg(device: TOTPDevice) -> str:
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode()


@transaction.atomic
def two_factor_confirm(user: Any, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm enrolment with a code from the new device: it replaces any other, and fresh
    recovery codes are made. Returns the recovery codes (shown once), or None if the code is
    wrong."""
    if not device.verify_token("".join(token.split())):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return recovery_codes_make(user)


def recovery_codes_make(user: Any) -> list[str]:
    """New recovery codes, replacing the old ones."""
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=static, token=code) for code in codes)
    return codes


def two_factor_reset(user: Any) -> int:
    """Remove every device of the user (a lost phone); they enrol again at their next
    sign-in. Returns how many devices were removed."""
    removed = 0
    for device in list(devices_for_user(user, confirmed=None)):
        device.delete()
        removed += 1
    return removed
