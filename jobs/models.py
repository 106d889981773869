from __future__ import annotations

from django.db import models


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
    # The schedule that sent it (beat's periodic_task_name header), in the tenant's schema or
    # public; empty for a job sent by hand or by code.
    periodic_task_name = models.CharField(max_length=200, blank=True, default="")
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
        # One name for the page, wherever it is linked from ("Job runs" and "Job history" once
        # named the same list).
        verbose_name = "job"
        verbose_name_plural = "jobs"
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
    def progress_text(self) -> str:
        """Progress in words: "3 of 10: tables" with a total; without one, the message (which
        then carries its own count, "12 sessions deleted"), or the bare count."""
        if self.progress_done is None:
            return ""
        if self.progress_total is not None:
            words = f"{self.progress_done} of {self.progress_total}"
            return f"{words}: {self.progress_message}" if self.progress_message else words
        return self.progress_message or str(self.progress_done)

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES
