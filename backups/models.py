"""The backup registry (public schema): each tenant's backups, their verification, the restores
made from them, the tenant's backup key and its retention policy. Public so that a tenant whose
schema is broken, being restored or dropped still has its backups, and its key to read them;
the archive bytes are an Artifact of kind backup (STORAGES["artifacts"])."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone

from artifacts.models import Artifact
from tenants.models import Tenant


class TenantKey(models.Model):
    """A tenant's backup data key: an age X25519 identity, kept only wrapped by the platform key
    (BACKUP_PLATFORM_KEY). Backups are encrypted to `recipient`; destroying the key (emptying
    `wrapped_identity`) makes every backup encrypted to it unreadable: crypto-shredding."""

    tenant = models.OneToOneField(Tenant, on_delete=models.PROTECT, related_name="backup_key")
    recipient = models.CharField(max_length=100)  # age1…: the public half, safe to show
    wrapped_identity = models.TextField(blank=True)  # empty once destroyed
    # Which platform key wrapped it (the first characters of its fingerprint), for rotation.
    wrapped_by = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"backup key of {self.tenant}"

    @property
    def is_destroyed(self) -> bool:
        return self.destroyed_at is not None


class BackupPolicy(models.Model):
    """A tenant's retention, grandfather-father-son: the newest verified backup of each of the
    last `keep_daily` days, `keep_weekly` ISO weeks and `keep_monthly` months is kept. This rule
    (backups.retention) is the only thing that deletes backups. A tenant without a row has the
    defaults below."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="backup_policy")
    keep_daily = models.PositiveSmallIntegerField(default=7, validators=[MaxValueValidator(366)])
    keep_weekly = models.PositiveSmallIntegerField(default=4, validators=[MaxValueValidator(520)])
    keep_monthly = models.PositiveSmallIntegerField(
        default=12, validators=[MaxValueValidator(1200)]
    )

    class Meta:
        verbose_name_plural = "backup policies"

    def __str__(self) -> str:
        return f"{self.keep_daily} daily, {self.keep_weekly} weekly, {self.keep_monthly} monthly"


class Backup(models.Model):
    class Kind(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        MANUAL = "manual", "On demand"
        SAFETY = "safety", "Safety (before a restore)"
        FINAL = "final", "Final (offboarding)"

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Method(models.TextChoices):
        # The normal path: the schema's DDL is the provisioning template's, data by COPY.
        TEMPLATE = "template", "Template + COPY"
        # The schema no longer matches its template: captured exactly by pg_dump -n.
        PG_DUMP = "pg_dump", "pg_dump -n (schema drifted from its template)"

    class Verification(models.TextChoices):
        UNVERIFIED = "unverified", "Not verified yet"
        PASSED = "passed", "Verified"
        FAILED = "failed", "Verification failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    # The archive; None while running, after a failure, or never for a failed backup.
    artifact = models.OneToOneField(
        Artifact, null=True, blank=True, on_delete=models.PROTECT, related_name="backup"
    )
    method = models.CharField(max_length=10, choices=Method.choices, blank=True)
    encrypted = models.BooleanField(default=False)
    schema_name = models.CharField(max_length=63)
    # The whole manifest as written into the archive (tenant, schema, migrations, versions,
    # tables with row counts and sha256, sizes, duration).
    manifest = models.JSONField(default=dict, blank=True)
    size = models.BigIntegerField(null=True, blank=True)  # the stored archive, in bytes
    duration_s = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    job_task_id = models.CharField("job", max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    verification = models.CharField(
        max_length=10, choices=Verification.choices, default=Verification.UNVERIFIED
    )
    verified_at = models.DateTimeField(null=True, blank=True)  # last verify run, either result
    verify_duration_s = models.FloatField("time to restore (s)", null=True, blank=True)
    verify_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-started_at"], name="backup_tenant_started"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} backup of {self.tenant} at {self.started_at:%Y-%m-%d %H:%M}"
        )

    @property
    def is_verified(self) -> bool:
        return self.verification == self.Verification.PASSED


class Restore(models.Model):
    """One restore of a backup: into its own tenant (after a safety backup, swapped in by
    rename) or as a new tenant (`target` differs from the backup's tenant)."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    backup = models.ForeignKey(Backup, on_delete=models.PROTECT, related_name="restores")
    target = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    as_new = models.BooleanField(default=False)
    safety_backup = models.ForeignKey(
        Backup, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    # The tenant's status before the restore put it in "restoring", and after it (whatever
    # happens, also when a dead restore is recovered by another process). Empty for as_new.
    previous_status = models.CharField(max_length=20, blank=True)
    # Migrations applied after loading, to bring an older backup to the code's state.
    migrated_forward = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField("restore time (s)", null=True, blank=True)
    error = models.TextField(blank=True)
    job_task_id = models.CharField("job", max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        # Read after its type in the audit log and the admin ("restore · <this>").
        return f"{self.backup} into {self.target}"


class BackupOverview(Tenant):
    """The platform's backups overview: one row per tenant (a proxy of Tenant, so the admin
    lists, sorts and filters it; annotated by backups.selectors.backup_overview_rows)."""

    class Meta:
        proxy = True
        verbose_name = "backup overview"
        verbose_name_plural = "backups overview"
