"""The reports' tables, in each tenant's schema."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ReportRecipient(models.Model):
    """Someone emailed when a report of this tenant is stored (scheduled or asked for): a link
    to the portal's Downloads, never the PDF itself. Set by the tenant's owners (portal)."""

    email = models.EmailField(unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email
