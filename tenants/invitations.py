"""The emails that bring a person into a tenant: an invitation (choose a password) or a note
that they were added. Here, low, so every way of adding members sends the same email: the
portal's members page, the tenant page's first owner, the members import."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from tenants.models import Tenant, tenant_url


def invite_send(*, user: User, tenant: Tenant) -> None:
    """Email a new member a link to set their password on the tenant's own domain."""
    path = reverse(
        "portal:password_reset_confirm",
        urlconf="saas.urls_tenant",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    _send(user, tenant, f"You have been invited to {tenant.name}", "invite.txt", path)


def added_send(*, user: User, tenant: Tenant) -> None:
    """Tell someone who already has an account (and a password) that they joined a tenant."""
    path = reverse("portal:login", urlconf="saas.urls_tenant")
    _send(user, tenant, f"You have been added to {tenant.name}", "added.txt", path)


def _send(user: User, tenant: Tenant, subject: str, template: str, path: str) -> None:
    # Links are on the tenant's configured domain (tenant_url), never the request's Host header.
    context = {"user": user, "tenant": tenant, "url": tenant_url(tenant, path)}
    send_mail(
        subject=subject,
        message=render_to_string(f"portal/email/{template}", context),
        from_email=None,
        recipient_list=[user.email],
    )
