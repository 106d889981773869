"""The Celery app. Every option lives in settings (CELERY_* names); this file only wires it."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

from saas.logcontext import install_record_factory

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings")
install_record_factory()

SHORT_QUEUE, LONG_QUEUE = "short", "long"


def queue_for(task: object) -> str:
    """Jobs that may run for minutes declare `long_running=True` and get the long queue, so
    they never hold the workers that serve short jobs; a family of jobs with workers of its own
    (backups: BACKUP_QUEUE) names its queue in `queue_name`."""
    own = getattr(task, "queue_name", None)
    if own:
        return str(own)
    return LONG_QUEUE if getattr(task, "long_running", False) else SHORT_QUEUE


def route_task(
    name: str, args: object, kwargs: object, options: dict, task: object = None, **kw: object
) -> dict:
    return {"queue": options.get("queue") or queue_for(task)}


app = Celery("saas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(SHORT_QUEUE), Queue(LONG_QUEUE)]
app.conf.task_routes = (route_task,)
app.autodiscover_tasks()
