from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy

from portal.forms import TenantAuthenticationForm, TenantPasswordResetForm
from tenants.models import Membership


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = Membership.objects.get(user_id=request.user.pk, tenant=request.tenant)  # type: ignore[attr-defined]
    return render(request, "portal/home.html", {"membership": membership})


class LoginView(auth_views.LoginView):
    form_class = TenantAuthenticationForm
    template_name = "portal/login.html"
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    form_class = TenantPasswordResetForm
    template_name = "portal/password_reset_form.html"
    email_template_name = "portal/email/password_reset.txt"
    subject_template_name = "portal/email/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password_reset_done")

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "tenant": self.request.tenant}  # type: ignore[attr-defined]
