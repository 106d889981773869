"""The task framework's public API: declare tracked tasks and send them.

    from jobs.api import tenant_task, task_enqueue

    @tenant_task(name="invoices.tasks.invoices_recount_task")
    def invoices_recount_task(self, year: int) -> dict: ...

Every task has an explicit `name=`: the name is stored outside the code (schedule rows in every
tenant's schema, JobRun history, messages already queued), so moving a module must not change
it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from celery import shared_task
from django.conf import settings

from jobs.base import PlatformTask, TenantTask, TrackedTask
from jobs.errors import JobSkipped
from tenants.models import Tenant

P = ParamSpec("P")
R = TypeVar("R")
# What a long service reports as it goes, to its job: done, total (None: not known), message.
# A tracked task passes its own `self.progress`.
Progress = Callable[[int, int | None, str], None]

__all__ = [
    "JobSkipped",
    "PlatformTask",
    "TenantTask",
    "TrackedTask",
    "is_tenant_task",
    "platform_task",
    "task_enqueue",
    "tenant_fanout",
    "tenant_task",
]


def tenant_task(
    *, name: str, **options: Any
) -> Callable[[Callable[Concatenate[Any, P], R]], TenantTask[P, R]]:
    """Declare a tenant task: `@tenant_task(name=…, long_running=True)` on `def job(self, …)`."""
    return cast(
        Callable[[Callable[Concatenate[Any, P], R]], TenantTask[P, R]],
        shared_task(name=name, base=TenantTask, bind=True, **options),
    )


def platform_task(
    *, name: str, **options: Any
) -> Callable[[Callable[Concatenate[Any, P], R]], PlatformTask[P, R]]:
    """Declare a task that runs in the public schema by design."""
    return cast(
        Callable[[Callable[Concatenate[Any, P], R]], PlatformTask[P, R]],
        shared_task(name=name, base=PlatformTask, bind=True, **options),
    )


def is_tenant_task(task: object) -> bool:
    """May this task be sent for a tenant (by beat, by "run now")?"""
    return isinstance(task, TenantTask)


def task_enqueue(
    task: TrackedTask[Any, Any],
    *,
    tenant: Tenant | None,
    args: Iterable[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    **options: Any,
) -> str:
    """The send for request code: inside the request's transaction the JobRun row is written at
    once and the message goes out on commit (see TrackedTask.apply_async). Returns the task id."""
    return str(task.apply_async(list(args), dict(kwargs or {}), tenant=tenant, **options).id)


def tenant_fanout(
    task: TenantTask[Any, Any],
    *,
    args: Iterable[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    window_s: int | None = None,
) -> list[str]:
    """Send `task` once for every active tenant, spread evenly over `window_s` seconds (default
    TENANT_FANOUT_WINDOW_S) so a nightly job does not hit every schema in the same second.
    Suspended, archived and provisioning tenants are skipped; a tenant being restored gets its
    job, which waits for the restore to end (jobs.base)."""
    window = settings.TENANT_FANOUT_WINDOW_S if window_s is None else window_s
    if window > settings.CELERY_MAX_TASK_DELAY_S:
        raise ValueError("the fan-out window exceeds CELERY_MAX_TASK_DELAY_S")
    tenants = list(
        Tenant.objects.filter(status__in=[Tenant.Status.ACTIVE, Tenant.Status.RESTORING])
        .exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .order_by("pk")
    )
    ids = []
    for i, tenant in enumerate(tenants):
        countdown = window * i / len(tenants) if window else 0
        result = task.apply_async(
            list(args), dict(kwargs or {}), tenant=tenant, countdown=countdown
        )
        ids.append(str(result.id))
    return ids
