from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from jobs.reconcile import jobs_reconcile


class Command(BaseCommand):
    help = (
        "Re-send tracked jobs that are in no queue and held by no live worker (beat's leader "
        "does this every JOBS_RECONCILE_INTERVAL_S)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = jobs_reconcile()
        self.stdout.write(
            f"{result.candidates} job(s) looked at, {len(result.resent)} re-sent, "
            f"{len(result.refused)} closed as failed."
        )
