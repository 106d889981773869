from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.http import HttpRequest

from accounts.models import User
from portal.throttle import login_attempt_allowed, login_succeeded
from saas.http import client_ip
from tenants.models import Membership, Tenant
from tenants.services import user_is_member


class TenantAuthenticationForm(AuthenticationForm):
    """Sign-in on a tenant's domain: members of that tenant only.

    A valid password of a non-member gets exactly the wrong-password error, so the form cannot
    be used to find out who has an account on the platform.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed sign-in attempts. Please wait a few minutes and try again.",
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.tenant: Tenant = request.tenant  # type: ignore[union-attr]

    def clean(self) -> dict[str, Any]:
        username = str(self.data.get("username", ""))
        ip = client_ip(self.request) if self.request else ""
        if not login_attempt_allowed(schema=self.tenant.schema_name, username=username, ip=ip):
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        cleaned = super().clean()
        login_succeeded(username=username)
        return cleaned

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not self.tenant.is_active or not user_is_member(user=user, tenant=self.tenant):
            raise self.get_invalid_login_error()


class TenantPasswordResetForm(PasswordResetForm):
    """Reset emails go only to members of the tenant whose domain the request came from."""

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def get_users(self, email: str) -> Iterator[User]:
        member_ids = set(
            Membership.objects.filter(tenant=self.tenant).values_list("user_id", flat=True)
        )
        return (user for user in super().get_users(email) if user.pk in member_ids)
