from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest

from accounts.forms import ThrottledAuthenticationForm
from accounts.models import User
from tenants.models import Membership, Tenant
from tenants.services import user_is_member


class TenantAuthenticationForm(ThrottledAuthenticationForm):
    """Sign-in on a tenant's domain: members of that tenant only, throttled per domain.

    A valid password of a non-member gets exactly the wrong-password error (and counts as a
    failure), so the form cannot be used to find out who has an account on the platform.
    """

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.tenant: Tenant = request.tenant  # type: ignore[union-attr]
        self.scope = self.tenant.schema_name

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not self.tenant.is_active or not user_is_member(user=user, tenant=self.tenant):
            raise self.get_invalid_login_error()


class TenantPasswordResetForm(PasswordResetForm):
    """Reset emails go only to members of the tenant whose domain the request came from."""

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The link is on the tenant's configured domain, never the request's Host header (a
        # forged Host would otherwise put an attacker's address in the email).
        port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
        kwargs["domain_override"] = f"{self.tenant.primary_domain}{port}"
        kwargs["use_https"] = settings.SITE_SCHEME == "https"
        super().save(*args, **kwargs)

    def get_users(self, email: str) -> Iterator[User]:
        member_ids = set(
            Membership.objects.filter(tenant=self.tenant).values_list("user_id", flat=True)
        )
        return (user for user in super().get_users(email) if user.pk in member_ids)


class MemberInviteForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        help_text="Someone without an account here gets an email to choose their password.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(
        label="Role", choices=Membership.Role.choices, initial=Membership.Role.MEMBER
    )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Membership.Role.choices)
