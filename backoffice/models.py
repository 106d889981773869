from __future__ import annotations

from django.conf import settings
from django.db import models


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


class JobRun(models.Model):
    """One tracked background job (one Celery task id), whatever the schema it ran in. Public.

    Written at most three times per attempt besides progress: queued (by the sender), running
    (attempt start) and a final state (attempt end); a worker's main process or the reaper
    closes an attempt whose process died.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        RETRYING = "retrying", "Retrying"
        SKIPPED = "skipped", "Skipped"
        REVOKED = "revoked", "Revoked"
        LOST = "lost", "Lost"

    FINAL_STATES = frozenset({"succeeded", "failed", "skipped", "revoked"})

    task_id = models.CharField(max_length=64)
    task_name = models.CharField(max_length=200)
    # No database constraint: a job may name a tenant that does not exist (a stale message,
    # a deleted tenant); the row must still record that it was refused. Display tenant_slug.
    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.DO_NOTHING,
        db_constraint=False, db_index=False, related_name="+",
    )  # fmt: skip
    tenant_slug = models.CharField(max_length=40, blank=True)
    schema_name = models.CharField(max_length=63, blank=True)
    queue = models.CharField(max_length=40, blank=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    arguments_truncated = models.BooleanField(default=False)
    summary = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    attempt = models.PositiveIntegerField(default=0)
    attempts = models.JSONField(default=list, blank=True)
    progress_done = models.PositiveIntegerField(null=True, blank=True)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    progress_message = models.CharField(max_length=200, blank=True)
    queued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    error_type = models.CharField(max_length=200, blank=True)
    error_message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    result_summary = models.JSONField(null=True, blank=True)
    artifact_url = models.CharField(max_length=500, blank=True)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, db_index=False, related_name="+"
    )

    class Meta:
        ordering = ["-queued_at", "-id"]
        # Few, chosen indexes: every write pays for each, and planning an UPDATE by task id took
        # a millisecond with Django's default per-field (and _like) indexes.
        constraints = [models.UniqueConstraint(fields=["task_id"], name="jobrun_task_id_unique")]
        indexes = [
            models.Index(fields=["-queued_at"], name="jobrun_queued"),
            models.Index(fields=["tenant_slug", "-queued_at"], name="jobrun_tenant_queued"),
            models.Index(fields=["task_name", "-queued_at"], name="jobrun_task_queued"),
            models.Index(fields=["state", "finished_at"], name="jobrun_state_finished"),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} [{self.task_id[:8]}] {self.state}"

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES


class ScheduleSummary(models.Model):
    """One periodic task of one schema, as the cross-tenant overview shows it. Public.

    A read model: beat writes it (a schema's rows replaced when it reloads that schema from the
    change log, run times updated after each send), so the overview reads one table with one
    query per page however many tenants there are. The rows in each schema stay the truth.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    schema_name = models.CharField(max_length=63)
    name = models.CharField(max_length=200)
    task = models.CharField(max_length=200, db_index=True)
    schedule = models.CharField(max_length=300)
    enabled = models.BooleanField()
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    missed_runs = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField()

    class Meta:
        ordering = ["schema_name", "name"]
        verbose_name = "schedule (all tenants)"
        verbose_name_plural = "schedules (all tenants)"
        constraints = [
            models.UniqueConstraint(fields=["schema_name", "name"], name="schedule_summary_key")
        ]

    def __str__(self) -> str:
        return f"{self.schema_name}: {self.name}"
