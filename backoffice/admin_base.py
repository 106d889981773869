"""ModelAdmin behaviour shared by the platform admin and every tenant's admin."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from unfold.admin import ModelAdmin, TabularInline
from unfold.forms import PaginationInlineFormSet

from backoffice.models import AuditEntry
from backoffice.services import audit_record_request


class AuditedAdminMixin:
    """Write the staff audit trail (public, tenant named) instead of Django's LogEntry.

    LogEntry stores a ContentType id and object id; for an object in a tenant schema neither says
    which tenant it was, so the trail would be ambiguous (docs/architecture.md).
    """

    # Django ignores what these return; ours are AuditEntry rows, not LogEntry (hence Any).
    def log_addition(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        return audit_record_request(request, action="add", obj=obj, detail={"change": message})

    def log_change(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        return audit_record_request(request, action="change", obj=obj, detail={"change": message})

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        return [audit_record_request(request, action="delete", obj=obj) for obj in queryset]

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        """The object's history from the staff audit log. Object ids repeat across tenant
        schemas, so the entries are those of the tenant whose admin this is (in the platform
        admin: platform entries, plus a tenant's own entries on its Tenant page)."""
        model = self.model  # type: ignore[attr-defined]
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if obj is None:
            raise Http404
        if not self.has_view_or_change_permission(request, obj):  # type: ignore[attr-defined]
            raise PermissionDenied
        entries = AuditEntry.objects.filter(object_type=model._meta.label, object_id=str(obj.pk))
        scope = getattr(request, "admin_tenant", None)
        if scope is not None:
            entries = entries.filter(tenant_slug=scope.slug)
        elif model._meta.label == "tenants.Tenant":
            entries = entries.filter(Q(tenant_slug="") | Q(tenant_id=obj.pk))
        else:
            entries = entries.filter(tenant_slug="")
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": f"History: {obj}",
            "subtitle": None,
            "object": obj,
            "opts": model._meta,
            "entries": entries.select_related("actor")[:200],
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/backoffice/audit_history.html", context)


class AuditedModelAdmin(AuditedAdminMixin, ModelAdmin):
    pass


class ReadOnlyAdminMixin:
    """A record staff look at but never add, edit or delete in a form (audit trail, job history,
    sessions, the schedule overview); what they may do with it are the admin's actions."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyTabFormSet(PaginationInlineFormSet):
    @classmethod
    def get_default_prefix(cls) -> str:
        # Their foreign keys have no reverse accessor (related_name="+"): Django's default
        # prefix would be empty, numbered "-1", "-2" by the page.
        assert cls.model is not None
        return str(cls.model._meta.model_name)


class ReadOnlyTab(TabularInline):
    """A read-only list on a tab of the tenant's page."""

    formset = ReadOnlyTabFormSet

    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    tab = True
    per_page = 20
    hide_title = True  # the row's own columns say what it is

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
