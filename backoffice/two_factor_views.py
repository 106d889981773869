"""The enrolment page of staff two-factor sign-in: /admin/two-factor/."""

from __future__ import annotations

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login
from unfold.widgets import BASE_INPUT_CLASSES

from backoffice.services import audit_record_request
from backoffice.two_factor import (
    totp_device_pending,
    totp_qr_svg,
    totp_secret,
    two_factor_confirm,
    two_factor_enrolled,
    two_factor_required,
    two_factor_verified,
)


class ConfirmForm(forms.Form):
    token = forms.CharField(
        label="Code from the app", max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "autofocus": True, "class": " ".join(BASE_INPUT_CLASSES)}),
    )  # fmt: skip


@never_cache
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan, type a code to confirm, keep the recovery codes."""
    from backoffice.sites import staff_site

    user = request.user
    if not (user.is_authenticated and user.is_staff):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    # Someone enrolled must prove the current device before replacing it.
    if two_factor_enrolled(user) and not two_factor_verified(user):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    device = totp_device_pending(user)
    form = ConfirmForm(request.POST or None)
    codes: list[str] | None = None
    if request.method == "POST" and form.is_valid():
        codes = two_factor_confirm(user, device, form.cleaned_data["token"])
        if codes is None:
            form.add_error("token", "That code does not match: type the code the app shows now.")
        else:
            otp_login(request, device)
            audit_record_request(request, action="2fa.enrol", obj=user)
    context = {
        **staff_site.each_context(request),
        # Not in the admin yet (for those who must enrol): no menu of pages that would only
        # send them back here.
        "available_apps": [],
        "is_nav_sidebar_enabled": False,
        "title": "Two-factor sign-in",
        "required": two_factor_required(user),
        "enrolled": two_factor_enrolled(user),
        "qr_svg": totp_qr_svg(device),
        "secret": totp_secret(device),
        "form": form,
        "recovery_codes": codes,
    }
    return TemplateResponse(request, "admin/two_factor_setup.html", context)
