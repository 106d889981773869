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
    context = {"user": user, "tenant": tenant, "url": tenant_url(tenant, path)}
    send_mail(
        subject=f"You have been invited to {tenant.name}",
        message=render_to_string("portal/email/invite.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
