"""Staff acting inside one tenant: the tenant-scoped admin under /admin/t/<slug>/.

The middleware below is the only way into a tenant's schema from the public domain:
1. it runs last, so the session and `request.user` are loaded from public first; it also fills
   the user's permission cache there (auth tables live in public only);
2. it switches the connection to the tenant around `get_response`, which includes rendering of
   TemplateResponses, so lazy querysets are evaluated inside the tenant (never in public);
3. it restores the previous schema in `finally`, so the session save, messages and anything
   after it run in public again.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import path

from backoffice.services import audit_record_request
from tenants.context import connection_tenant, connection_tenant_set
from tenants.models import Tenant

PREFIX = "/admin/t/"
_SESSION_KEY = "backoffice_scope"


def tenant_admin_url(tenant: Tenant) -> str:
    return f"{PREFIX}{tenant.slug}/"


@lru_cache(maxsize=4096)
def tenant_admin_urlconf(slug: str) -> types.ModuleType:
    """A URLconf with this tenant's admin mounted under its prefix, plus the public URLs.

    One module per slug (cached) lets Django's own `reverse()` build tenant-admin links without
    every admin view having to pass the slug along.
    """
    from backoffice.sites import tenant_site
    from saas import urls_public

    module = types.ModuleType(f"tenant_admin_urls_{slug}")
    module.urlpatterns = [  # type: ignore[attr-defined]
        path(f"admin/t/{slug}/", tenant_site.urls),
        *urls_public.urlpatterns,
    ]
    module.handler500 = urls_public.handler500  # type: ignore[attr-defined]
    return module


# Statuses whose tenant admin only reads, with what a refused change is told.
_READ_ONLY = {
    Tenant.Status.ARCHIVED: "This tenant is archived and read-only. Reactivate it first.",
    Tenant.Status.RESTORING: "This tenant is being restored and is read-only until the restore "
    "ends: a change now would be lost.",
}


class TenantAdminScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        host_tenant = getattr(request, "tenant", None)
        if (
            host_tenant is None
            or host_tenant.schema_name != settings.PUBLIC_SCHEMA_NAME
            or not request.path_info.startswith(PREFIX)
        ):
            return self.get_response(request)

        slug = request.path_info[len(PREFIX) :].split("/", 1)[0]
        tenant = (
            Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
            .filter(slug=slug)
            .first()
        )
        if tenant is None:
            raise Http404("No such tenant.")

        user = request.user
        if user.is_authenticated:
            user.get_all_permissions()  # fill the permission caches while in public
        signing_out = request.path_info.endswith("/logout/")
        if (
            tenant.status in _READ_ONLY
            and not signing_out
            and request.method
            not in (
                "GET",
                "HEAD",
                "OPTIONS",
            )
        ):
            # An archived tenant is kept read-only: staff may look, nobody may change it. So is
            # one being restored: a change now would be lost with the schema being replaced.
            if user.is_authenticated:
                audit_record_request(request, action="denied", tenant=tenant,
                                     detail={"method": request.method, "path": request.path, "why": tenant.status})  # fmt: skip
            return HttpResponseForbidden(_READ_ONLY[tenant.status])
        request.admin_tenant = tenant  # type: ignore[attr-defined]
        request.urlconf = tenant_admin_urlconf(slug)  # type: ignore[assignment]  # a module works too
        if user.is_authenticated and user.is_staff and request.session.get(_SESSION_KEY) != slug:
            request.session[_SESSION_KEY] = slug
            audit_record_request(request, action="tenant_admin.enter", tenant=tenant)

        previous = connection_tenant()
        connection_tenant_set(tenant)
        try:
            response = self.get_response(request)
        finally:
            connection_tenant_set(previous)

        if response.status_code == 403 and user.is_authenticated:
            audit_record_request(
                request,
                action="denied",
                tenant=tenant,
                detail={"method": request.method, "path": request.path},
            )
        return response
