from __future__ import annotations

from django.db import models


class ScheduleChange(models.Model):
    """Append-only log of schedule changes, one row per change, naming the schema.

    Beat reads the rows newer than the last it saw: one indexed query per tick, whatever the
    number of tenants, and only the schemas named are reloaded (beat/scheduler.py). Rows are
    written by `schedules_changed()` alone (beat/changelog.py), which every path calls.
    """

    schema_name = models.CharField(max_length=63)
    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.schema_name} changed at {self.at:%Y-%m-%d %H:%M:%S}"


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
