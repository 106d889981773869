"""Who may be on a tenant's domain at all: the tenant must be active and the signed-in user one
of its members. Checked on every request, so suspending a tenant or removing a member takes
effect at once, without waiting for sessions to expire."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from tenants.services import user_is_member

_OPEN_PATHS = ("/healthz",)


class TenantAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.schema_name == settings.PUBLIC_SCHEMA_NAME:
            return self.get_response(request)
        if request.path_info.startswith(_OPEN_PATHS):
            return self.get_response(request)
        if not tenant.is_active:
            if request.user.is_authenticated:
                logout(request)
            response = TemplateResponse(
                request, "portal/unavailable.html", {"tenant": tenant}, status=403
            )
            return response.render()
        if request.user.is_authenticated and not user_is_member(user=request.user, tenant=tenant):
            logout(request)
            return redirect(settings.LOGIN_URL)
        return self.get_response(request)
