"""Variant (d) of bench/task_overhead.py: tenant-schemas-celery's TenantTask on its CeleryApp.

A module of its own: importing tenant_schemas_celery connects task_prerun/postrun receivers
for every task in the process, which would also slow down variants (a)-(c)."""

from __future__ import annotations

import os
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings")

import django

django.setup()

from django_celery_beat.models import IntervalSchedule  # noqa: E402
from kombu import Queue  # noqa: E402
from tenant_schemas_celery.app import CeleryApp  # noqa: E402

from bench.timing import record  # noqa: E402

app = CeleryApp("bench_peer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue("bench")]


@app.task(name="bench.peer")
def peer(sent_at: float = 0.0) -> None:
    started = time.time()
    IntervalSchedule.objects.filter(period="days").count()
    record(started, time.time(), sent_at)
