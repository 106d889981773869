"""ModelAdmin behaviour shared by the platform admin and every tenant's admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from backoffice.services import audit_record_request


class AuditedAdminMixin:
    """Write the staff audit trail (public, tenant named) instead of Django's LogEntry.

    LogEntry stores a ContentType id and object id; for an object in a tenant schema neither says
    which tenant it was, so the trail would be ambiguous (docs/architecture.md).
    """

    def log_addition(self, request: HttpRequest, obj: models.Model, message: Any) -> None:
        audit_record_request(request, action="add", obj=obj, detail={"change": message})

    def log_change(self, request: HttpRequest, obj: models.Model, message: Any) -> None:
        audit_record_request(request, action="change", obj=obj, detail={"change": message})

    def log_deletions(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            audit_record_request(request, action="delete", obj=obj)


class AuditedModelAdmin(AuditedAdminMixin, admin.ModelAdmin):
    pass
