"""The artifact registry (public schema): every file the platform makes for a tenant, the share
links to one, and every download (or refusal). Public so that a file, its links and its audit
outlive a broken or deleted schema; the bytes themselves are in STORAGES["artifacts"]."""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import Tenant

# <tenant id>/<kind>/<yyyy>/<mm>/<32 hex>[.<ext>]: made by artifacts.storage.key_make only, from
# the tenant's immutable id and random bytes, never from anything a user typed. Serving refuses
# a row whose key does not match (a path traversal written into the table by anything else).
KEY_RE = re.compile(
    r"^(?P<tenant>[1-9][0-9]{0,18})/[a-z_]{1,20}/[0-9]{4}/[0-9]{2}/[0-9a-f]{32}(\.[a-z0-9]{1,8})?$"
)


class Artifact(models.Model):
    class Kind(models.TextChoices):
        # Every kind the platform will make, declared now so later features add none.
        REPORT = "report", "Report"
        BACKUP = "backup", "Backup"
        EXPORT = "export", "Data export"
        IMPORT_UPLOAD = "import_upload", "Import upload"
        IMPORT_ERRORS = "import_errors", "Import errors"

    class Audience(models.TextChoices):
        OWNERS = "owners", "Owners only"
        MEMBERS = "members", "All members"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    # The name the download is saved under (Content-Disposition); never part of the key.
    filename = models.CharField(max_length=200)
    audience = models.CharField(max_length=10, choices=Audience.choices)
    storage_key = models.CharField(max_length=200, unique=True)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    # The job that made it: its task id (JobRun rows are pruned after JOBRUN_RETENTION_DAYS; the
    # artifact stays, so no foreign key that would dangle).
    job_task_id = models.CharField("job", max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # None: kept until something else deletes it (backups: the backups issue's retention rule).
    expires_at = models.DateTimeField(null=True, blank=True)
    legal_hold = models.BooleanField(default=False, help_text="Kept whatever its expiry.")
    # A tombstone: the bytes are gone, the row (and its downloads' audit) stays.
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_reason = models.CharField(max_length=100, blank=True)
    # Set by serving (file missing or of the wrong size, checksum mismatch while streaming) and
    # by the scrub; shown to staff (admin filter, dashboard, alerts). Empty: no known problem.
    problem = models.CharField(max_length=200, blank=True)
    checked_at = models.DateTimeField("last scrubbed", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="artifact_tenant_created"),
            models.Index(
                fields=["expires_at"],
                name="artifact_expiring",
                condition=models.Q(deleted_at__isnull=True, expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class ShareLink(models.Model):
    """A link to one artifact for someone without an account, on its tenant's domain only.
    Only the sha256 of its token is stored: the token is shown once, when it is made."""

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="share_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    uses = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"link {self.pk} to {self.artifact}"

    def state(self, now: dt.datetime | None = None) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= (now or timezone.now()):
            return "expired"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return "used up"
        return "active"


class DownloadEvent(models.Model):
    """One download asked for, served or refused: who (or which link), from where, what range
    was authorised, how many bytes Python sent (when it streamed them), and the outcome."""

    class Via(models.TextChoices):
        PORTAL = "portal", "Portal"
        ADMIN = "admin", "Admin"
        LINK = "link", "Share link"

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"  # Python streamed every byte authorised
        HANDED_OFF = "handed_off", "Handed to nginx or S3"  # X-Accel-Redirect / presigned URL
        INCOMPLETE = "incomplete", "Stopped early"  # the client went away mid-stream
        CHECKSUM_MISMATCH = "checksum_mismatch", "Checksum mismatch"
        NOT_FOUND = "not_found", "Refused: not found"
        FORBIDDEN = "forbidden", "Refused: not allowed"
        UNAVAILABLE = "unavailable", "Refused: file missing or damaged"
        RANGE_NOT_SATISFIABLE = "range_416", "Refused: range not satisfiable"

    REFUSALS = ("not_found", "forbidden", "unavailable", "range_416")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    # The tenant whose domain (or admin tab) the request came through; None on the platform.
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    artifact = models.ForeignKey(
        Artifact, null=True, blank=True, on_delete=models.PROTECT, related_name="downloads"
    )
    # What the request named (an id, possibly guessed or malformed), kept when it matched nothing.
    requested = models.CharField(max_length=100, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    share_link = models.ForeignKey(
        ShareLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="downloads"
    )
    via = models.CharField(max_length=10, choices=Via.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    range_start = models.BigIntegerField(null=True, blank=True)
    range_end = models.BigIntegerField(null=True, blank=True)  # inclusive
    bytes_sent = models.BigIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["tenant", "-at"], name="download_tenant_at")]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def refused(self) -> bool:
        return self.outcome in self.REFUSALS
