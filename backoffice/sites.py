"""The two admin sites: the platform admin on the public domain, and the tenant-scoped admin
mounted at /admin/t/<slug>/ (see backoffice/tenant_scope.py for how the scope is entered)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django_tenants.utils import schema_context

from backoffice.models import AuditEntry
from tenants.models import Tenant


class StaffAdminSite(admin.AdminSite):
    site_header = "SaaS backoffice"
    site_title = "Backoffice"
    index_title = "Platform"
    index_template = "admin/backoffice_index.html"

    def get_urls(self) -> list[Any]:
        return [
            path("operations/", self.admin_view(self.operations_view), name="operations"),
            *super().get_urls(),
        ]

    def operations_view(self, request: HttpRequest) -> TemplateResponse:
        """Queues, workers, beat and failing jobs: what Flower would show, inside the admin."""
        from backoffice.operations import operations_snapshot

        context = {
            **self.each_context(request),
            "title": "Operations",
            "ops": operations_snapshot(),
        }
        return TemplateResponse(request, "admin/backoffice/operations.html", context)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        counts = dict(
            Tenant.objects.exclude(schema_name="public")
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        context = {
            "tenant_counts": [
                (label, counts.get(value, 0)) for value, label in Tenant.Status.choices
            ],
            "recent_audit": AuditEntry.objects.select_related("actor")[:10],
            **(extra_context or {}),
        }
        return super().index(request, context)


class TenantAdminSite(admin.AdminSite):
    """Everything registered here lives in a tenant schema and is only reachable in its scope."""

    site_header = "SaaS backoffice"
    site_title = "Tenant admin"
    index_template = "admin/tenant_index.html"

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
