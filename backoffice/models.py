from __future__ import annotations

from django.conf import settings
from django.db import models

from backoffice.audit_words import action_words, object_type_words


class AuditEntry(models.Model):
    """What a staff member did, to which tenant, when. Public schema.

    Replaces Django's LogEntry for staff actions: LogEntry points at a ContentType and an object
    id, which mean nothing once the object lives in a tenant schema. Here the tenant is named
    (slug kept as text, so the entry outlives the tenant) and the object is described in words.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_username = models.CharField(max_length=150)
    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tenant_slug = models.CharField(max_length=40, blank=True, db_index=True)
    action = models.CharField(max_length=60, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        where = f" in {self.tenant_slug}" if self.tenant_slug else ""
        return f"{self.actor_username} {self.action} {self.object_repr}{where}"

    @property
    def action_words(self) -> str:
        return action_words(self.action)

    @property
    def object_type_words(self) -> str:
        return object_type_words(self.object_type)
