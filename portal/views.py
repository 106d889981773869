from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from portal.forms import TenantAuthenticationForm, TenantPasswordResetForm
from tenants.models import Membership
from usersessions.models import Session
from usersessions.selectors import session_max_age_current, user_sessions_active
from usersessions.services import sessions_end


def _user_id(request: HttpRequest) -> int:
    # Behind login_required: a signed-in user always has one.
    return int(request.user.pk)  # type: ignore[arg-type]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = Membership.objects.get(user_id=_user_id(request), tenant=request.tenant)  # type: ignore[attr-defined]
    return render(request, "portal/home.html", {"membership": membership})


@login_required
def sessions_list(request: HttpRequest) -> HttpResponse:
    """The user's own active sessions on this tenant's domain, the current one marked."""
    rows = user_sessions_active(user_id=_user_id(request), max_age=session_max_age_current())
    current = request.session.session_key
    sessions = [(row, row.session_key == current) for row in rows]
    return render(request, "portal/sessions.html", {"sessions": sessions})


@login_required
@require_POST
def sessions_end_view(request: HttpRequest) -> HttpResponse:
    """End one of the user's other sessions (by its `ref`), or all of them; never the current
    one (signing out does that)."""
    others = Session.objects.filter(user_id=request.user.pk).exclude(
        session_key=request.session.session_key
    )
    if request.POST.get("all_others"):
        keys = list(others.values_list("session_key", flat=True))
    else:
        ref = request.POST.get("session", "")
        keys = [row.session_key for row in others.only("session_key") if row.ref == ref]
        if not keys:
            messages.error(request, "That session is not one of your other sessions here.")
            return redirect("portal:sessions")
    count = sessions_end(schema_name=request.tenant.schema_name, session_keys=keys)  # type: ignore[attr-defined]
    messages.success(request, f"{count} session{'s' if count != 1 else ''} ended.")
    return redirect("portal:sessions")


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
