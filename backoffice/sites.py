"""The two admin sites: the platform admin on the public domain, and the tenant-scoped admin
mounted at /admin/t/<slug>/ (see console/tenant_scope.py for how the scope is entered)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, URLResolver, path, reverse
from django_tenants.utils import schema_context
from unfold.forms import AuthenticationForm as UnfoldAuthenticationForm
from unfold.sites import UnfoldAdminSite
from unfold.widgets import BASE_INPUT_CLASSES

from accounts.forms import ThrottledAuthenticationForm
from backoffice.two_factor import (
    token_match,
    two_factor_enrolled,
    two_factor_required,
    two_factor_satisfied,
)

DashboardContext = Callable[[HttpRequest], dict[str, Any]]


class StaffAuthenticationForm(ThrottledAuthenticationForm, UnfoldAuthenticationForm):
    """The staff sign-in: throttled like the portal's (scope: public), staff only, and with
    the code of an authenticator app (or a recovery code) for everyone who enrolled one. A
    wrong code counts as a failed sign-in."""

    otp_token = forms.CharField(
        label="Code", required=False, max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "class": " ".join(BASE_INPUT_CLASSES)}),
        help_text="From your authenticator app, or one of your recovery codes.",
    )  # fmt: skip

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not two_factor_enrolled(user):
            return  # Viewers may go without; those who must are sent to enrol next
        device = token_match(user, self.cleaned_data.get("otp_token") or "")
        if device is None:
            raise forms.ValidationError(
                "Enter the current code of your authenticator app (or a recovery code).",
                code="otp_invalid",
            )
        user.otp_device = device  # django-otp marks the session verified at login()


class DashboardSiteMixin:
    """An index page that is a dashboard, plugged in from above (the console app, in its
    ready()): the sites below cannot import what the dashboard reads."""

    _dashboard: DashboardContext | None = None
    index_template: str | None

    def dashboard_set(self, context: DashboardContext, template: str) -> None:
        """The index page: `template`, with what `context(request)` returns."""
        self._dashboard = context
        self.index_template = template

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        context = self._dashboard(request) if self._dashboard is not None else {}
        return super().index(request, {**context, **(extra_context or {})})  # type: ignore[misc]


class StaffAdminSite(DashboardSiteMixin, UnfoldAdminSite):
    """The platform admin. Every app registers its models here; the dashboard and cross-app
    pages, which sit above every app, plug in through `dashboard_set` and `view_add` (the
    console app does, in its ready())."""

    site_header = "SaaS backoffice"
    site_title = "Backoffice"
    index_title = "Platform"
    login_form = StaffAuthenticationForm

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self._views: list[URLPattern] = []

    def view_add(self, route: str, view: Callable[..., HttpResponse], name: str) -> None:
        """A page of the admin (behind its sign-in and staff check), named `admin:<name>`."""
        self._views.append(path(route, self.admin_view(view), name=name))

    def get_urls(self) -> list[URLResolver | URLPattern]:
        from backoffice.two_factor_views import two_factor_setup

        # Not behind admin_view: it is the page staff must pass before admin_view lets them in.
        setup = path("two-factor/", two_factor_setup, name="two_factor_setup")
        return [setup, *self._views, *super().get_urls()]

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and two_factor_satisfied(request.user)

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        user = request.user
        # Signed in with the password, must have a second factor, has none yet: enrol first.
        if two_factor_required(user) and not two_factor_enrolled(user):
            return HttpResponseRedirect(reverse("admin:two_factor_setup"))
        return super().login(request, extra_context)


class TenantAdminSite(DashboardSiteMixin, UnfoldAdminSite):
    """Everything registered here lives in a tenant schema and is only reachable in its scope."""

    settings_name = "UNFOLD_TENANT"

    site_header = "SaaS backoffice"
    site_title = "Tenant admin"
    index_template = "admin/tenant_index.html"

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and two_factor_satisfied(request.user)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        tenant = getattr(request, "admin_tenant", None)
        context["scoped_tenant"] = tenant
        context["site_url"] = None
        if tenant is not None:
            context["index_title"] = f"{tenant.name} ({tenant.slug})"
        return context

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # One sign-in for staff: the platform admin's.
        query = urlencode({"next": request.GET.get("next", request.get_full_path())})
        return HttpResponseRedirect(f"{reverse('admin:login', current_app='admin')}?{query}")

    # Signing out and changing one's password act on the staff session, which lives in public:
    # run inside the tenant's schema, they would touch the tenant's own session table instead.
    def logout(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        return _in_public(staff_site.logout, request, extra_context)

    def password_change(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> Any:
        return _in_public(staff_site.password_change, request, extra_context)

    def password_change_done(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> Any:
        return _in_public(staff_site.password_change_done, request, extra_context)


def _in_public(view: Any, request: HttpRequest, extra_context: Any) -> Any:
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        response = view(request, extra_context)
        if hasattr(response, "render"):
            response.render()
    return response


staff_site = StaffAdminSite(name="admin")
tenant_site = TenantAdminSite(name="tenant_admin")
