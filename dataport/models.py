"""Import runs (public schema, like the artifacts they point at): one upload of one file into
one tenant's resource, from the check (the dry run and its preview) to the apply."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from artifacts.models import Artifact
from tenants.models import Tenant


class ImportRun(models.Model):
    class State(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        CHECKING = "checking", "Checking"
        CHECKED = "checked", "Checked: waiting for confirmation"
        CONFIRMED = "confirmed", "Confirmed: waiting for its job"
        REFUSED = "refused", "Refused: the file cannot be read"
        APPLYING = "applying", "Applying"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Not applied"
        CANCELLED = "cancelled", "Cancelled"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    resource = models.CharField(max_length=60)
    format = models.CharField(max_length=10)
    upload = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="+")
    errors_file = models.ForeignKey(
        Artifact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.UPLOADED)
    skip_invalid = models.BooleanField(default=False)
    # Why the file was refused, or the apply failed: a sentence for people.
    message = models.TextField(blank=True)
    # {"new": n, "changed": n, "unchanged": n, "errors": n, "rows": n}
    counts = models.JSONField(default=dict, blank=True)
    # The first rows of each kind: [{"row": 3, "action": "changed", "key": "…", "changes": …}]
    preview = models.JSONField(default=list, blank=True)
    # The first errors: [{"row": 3, "column": "email", "message": "…"}]
    errors = models.JSONField(default=list, blank=True)
    check_task_id = models.CharField(max_length=64, blank=True)
    apply_task_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="importrun_tenant_created")]
        # Import and export are separate permissions: Viewers export, Operators also import.
        permissions = [
            ("import_data", "Can import a tenant's data"),
            ("export_data", "Can export a tenant's data"),
        ]

    def __str__(self) -> str:
        return f"{self.resource} import {self.pk}"
