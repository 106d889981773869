"""Who may be on a tenant's domain at all: the tenant must be active and the signed-in user one
of its members (a tenant being restored shows a maintenance page on every path). Checked on every request, so suspending a tenant or removing a member takes
effect at once, without waiting for sessions to expire. The membership found is kept on the
request (`request.membership`, None when signed out): the pages read the role from it. Times
are shown in the tenant's time zone."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone

from portal.downloads import is_download_path, middleware_refuse
from tenants.models import Membership, Tenant

_OPEN_PATHS = ("/healthz",)
MAINTENANCE_RETRY_AFTER_S = 60


def _maintenance(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """The page every path answers while the tenant is being restored (backups.restore). It
    reads nothing in the tenant's schema, not even the session: that schema is being swapped.
    Nobody is signed out here; the restore ends every session when it swaps."""
    response = TemplateResponse(
        request,
        "portal/maintenance.html",
        {"tenant": tenant, "retry_after": MAINTENANCE_RETRY_AFTER_S},
        status=503,
    )
    response["Retry-After"] = str(MAINTENANCE_RETRY_AFTER_S)
    response["Cache-Control"] = "no-store"
    # Expected while it lasts, not a server error: Django's request logger would write one
    # ERROR line per page view (it skips a response marked as logged).
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response.render()


class TenantAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.schema_name == settings.PUBLIC_SCHEMA_NAME:
            return self.get_response(request)
        if request.path_info.startswith(_OPEN_PATHS):
            return self.get_response(request)
        if tenant.status == Tenant.Status.RESTORING:
            return _maintenance(request, tenant)
        if not tenant.is_active:
            if is_download_path(request.path_info):
                response = middleware_refuse(request, tenant, f"tenant {tenant.status}")
                if request.user.is_authenticated:
                    logout(request)
                return response
            if request.user.is_authenticated:
                logout(request)
            response = TemplateResponse(
                request, "portal/unavailable.html", {"tenant": tenant}, status=403
            )
            return response.render()
        membership = None
        if request.user.is_authenticated:
            # order_by(): Membership's default ordering joins the tenant and user tables, for
            # a row that the unique (user, tenant) pair already picks out.
            membership = (
                Membership.objects.filter(user_id=request.user.pk, tenant=tenant).order_by().first()
            )
            if membership is None:
                if is_download_path(request.path_info):
                    response = middleware_refuse(request, tenant, "not a member of this tenant")
                    logout(request)
                    return response
                logout(request)
                return redirect(settings.LOGIN_URL)
        request.membership = membership  # type: ignore[attr-defined]
        # Times on the portal's pages are in the tenant's zone (the pages label them so).
        timezone.activate(zoneinfo.ZoneInfo(tenant.timezone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
