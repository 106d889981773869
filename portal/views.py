from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from accounts.models import User
from portal.downloads import recent_for_home
from portal.forms import (
    MemberInviteForm,
    MemberRoleForm,
    TenantAuthenticationForm,
    TenantPasswordResetForm,
)
from portal.members import (
    MemberChangeRefused,
    member_get,
    member_invite,
    member_remove,
    member_role_set,
    member_signed_in,
    members_list,
)
from saas.http import client_ip
from tenants.models import Membership, Tenant
from usersessions.models import Session
from usersessions.selectors import session_max_age_current, user_sessions_active
from usersessions.services import sessions_end


def _user_id(request: HttpRequest) -> int:
    # Behind login_required: a signed-in user always has one.
    return int(request.user.pk)  # type: ignore[arg-type]


def _tenant(request: HttpRequest) -> Tenant:
    return request.tenant  # type: ignore[attr-defined]


def _membership(request: HttpRequest) -> Membership:
    # Set by portal.middleware.TenantAccessMiddleware for every signed-in member.
    return request.membership  # type: ignore[attr-defined]


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


View = Callable[..., HttpResponse]


def owner_required(view: View) -> View:
    """Signed in, and an owner of this tenant; anyone else gets 403."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _membership(request).role != Membership.Role.OWNER:
            # A response, not PermissionDenied: an expected refusal, not a logged traceback.
            return render(request, "portal/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    context: dict[str, Any] = {"membership": membership, "recent": recent_for_home(request)}
    if membership.role == Membership.Role.OWNER:
        context["member_count"] = Membership.objects.filter(tenant=_tenant(request)).count()
    return render(request, "portal/home.html", context)


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

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        member_signed_in(tenant=_tenant(self.request), user=form.get_user())
        return response


class PasswordResetView(auth_views.PasswordResetView):
    form_class = TenantPasswordResetForm
    template_name = "portal/password_reset_form.html"
    email_template_name = "portal/email/password_reset.txt"
    subject_template_name = "portal/email/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password_reset_done")

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "tenant": self.request.tenant}  # type: ignore[attr-defined]


# --- Members (owners only) ----------------------------------------------------------------------
_ROLE_PHRASES: dict[str, str] = {
    Membership.Role.OWNER: "an owner",
    Membership.Role.MEMBER: "a member",
}


def _members_page(
    request: HttpRequest, invite_form: Form | None = None, status: int = 200
) -> HttpResponse:
    rows = [
        (membership, MemberRoleForm(initial={"role": membership.role}, prefix=f"m{membership.pk}"))
        for membership in members_list(tenant=_tenant(request))
    ]
    context = {
        "rows": rows,
        "invite_form": invite_form or MemberInviteForm(),
        "you": _actor(request),
    }
    return render(request, "portal/members.html", context, status=status)


@owner_required
def members(request: HttpRequest) -> HttpResponse:
    return _members_page(request)


@owner_required
@require_POST
def member_invite_view(request: HttpRequest) -> HttpResponse:
    form = MemberInviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = member_invite(
                tenant=_tenant(request), actor=_actor(request), ip_address=client_ip(request) or None,
                email=form.cleaned_data["email"], role=form.cleaned_data["role"],
            )  # fmt: skip
        except MemberChangeRefused as exc:
            form.add_error("email", str(exc))
        else:
            email, role = invitation.membership.user.email, invitation.membership.role
            sent = "an invitation to choose a password" if invitation.new_user else "a note"
            messages.success(
                request, f"{email} is now {_ROLE_PHRASES[role]}. We emailed them {sent}."
            )
            return redirect("portal:members")
    return _members_page(request, invite_form=form, status=400)


@owner_required
@require_POST
def member_role_view(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _member_or_404(request, membership_id)
    form = MemberRoleForm(request.POST, prefix=f"m{membership.pk}")
    if not form.is_valid():
        messages.error(request, "Choose a role from the list.")
        return redirect("portal:members")
    try:
        member_role_set(
            tenant=_tenant(request), actor=_actor(request), ip_address=client_ip(request) or None,
            membership_id=membership.pk, role=form.cleaned_data["role"],
        )  # fmt: skip
    except MemberChangeRefused as exc:
        messages.error(request, str(exc))
        return redirect("portal:members")
    role = form.cleaned_data["role"]
    messages.success(request, f"{membership.user.email} is now {_ROLE_PHRASES[role]}.")
    if membership.user_id == request.user.pk and role != Membership.Role.OWNER:
        return redirect("portal:home")  # no longer an owner: the members page is closed to you
    return redirect("portal:members")


@owner_required
def member_remove_view(request: HttpRequest, membership_id: int) -> HttpResponse:
    """GET asks to confirm (the member's sessions end at once); POST removes."""
    membership = _member_or_404(request, membership_id)
    if request.method != "POST":
        return render(request, "portal/member_remove.html", {"membership": membership})
    try:
        ended = member_remove(
            tenant=_tenant(request), actor=_actor(request), ip_address=client_ip(request) or None,
            membership_id=membership.pk,
        )  # fmt: skip
    except MemberChangeRefused as exc:
        messages.error(request, str(exc))
        return redirect("portal:members")
    messages.success(
        request,
        f"{membership.user.email} was removed; {ended} session{'s' if ended != 1 else ''} ended.",
    )
    return redirect("portal:members")


def _member_or_404(request: HttpRequest, membership_id: int) -> Membership:
    # Always within this tenant: another tenant's membership id is simply not found.
    try:
        return member_get(tenant=_tenant(request), membership_id=membership_id)
    except Membership.DoesNotExist:
        raise Http404("No such member here.") from None
