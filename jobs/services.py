"""What staff do to jobs from the admin: retry one as a new job, revoke or terminate one."""

from __future__ import annotations

from typing import Any

from celery.utils import uuid

from jobs.bookkeeping import jobrun_queued, jobrun_revoked
from jobs.headers import TENANT_ID, TENANT_SCHEMA
from jobs.models import JobRun
from saas.celery import app


class JobRunRefused(ValueError):
    pass


def jobrun_retry(*, run: JobRun) -> str:
    """Send the same task again, for the same tenant and arguments, as a new job linked to the
    old one (inside a transaction, on its commit: see TrackedTask.apply_async). Returns the new
    task id."""
    if run.arguments_truncated:
        raise JobRunRefused("Its arguments were too large to store; it cannot be replayed.")
    task = app.tasks.get(run.task_name)
    if task is None:
        raise JobRunRefused(f"No task named {run.task_name} is registered.")
    new_id = uuid()
    jobrun_queued(
        task_id=new_id, task_name=run.task_name, tenant_id=run.tenant_id,
        tenant_slug=run.tenant_slug, schema_name=run.schema_name, args=run.args,
        kwargs=run.kwargs, queue=run.queue, retry_of=run,
    )  # fmt: skip
    options: dict[str, Any] = {}
    if run.tenant_id is not None:
        options["tenant"] = {TENANT_ID: run.tenant_id, TENANT_SCHEMA: run.schema_name}
    task.apply_async(run.args, run.kwargs, new_id, **options)
    return new_id


def jobrun_revoke(*, run: JobRun, terminate: bool) -> None:
    """Revoke a queued job, or with `terminate` also kill the process running it."""
    if run.is_final:
        raise JobRunRefused(f"The job already {run.state}.")
    if run.state == JobRun.State.RUNNING and not terminate:
        # A revoke only stops a job that has not started; this one would go on and its real
        # outcome would be hidden behind "revoked".
        raise JobRunRefused("It is running: terminate it to stop it.")
    app.control.revoke(run.task_id, terminate=terminate, signal="SIGTERM")
    jobrun_revoked(
        task_id=run.task_id, reason="terminated by staff" if terminate else "revoked by staff"
    )
