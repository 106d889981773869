from __future__ import annotations

from django.db import models
from django_celery_beat.models import PeriodicTask

# Runs missed while beat was down are run once when it is back, unless staff choose to skip.
CATCH_UP_DEFAULT = True


class ScheduleState(models.Model):
    """What beat knows about a periodic task beyond django-celery-beat's row. Lives beside the
    row, in the same schema (a tenant's or public).

    `catch_up` is the per-entry choice for runs missed while beat was down: run once when beat
    is back (the default: a late cleanup or report beats none), or skip to the next due time.
    """

    periodic_task = models.OneToOneField(
        PeriodicTask, on_delete=models.CASCADE, related_name="state", primary_key=True
    )
    catch_up = models.BooleanField(
        default=CATCH_UP_DEFAULT,
        help_text="After beat was down past a due time: run once when it is back (on) or "
        "wait for the next due time (off).",
    )
    missed_runs = models.PositiveIntegerField(default=0)
    last_missed_at = models.DateTimeField(null=True, blank=True)
    # Why beat could not send the row's last due run (bad data stored before validation
    # caught it); cleared when the row is saved again.
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"state of {self.periodic_task_id}"
