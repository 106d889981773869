"""JobRun bookkeeping: what the tenant task base and the worker's main process call.

Each bookkeeping function writes one UPDATE or INSERT, keyed by task id, and is safe to call
twice (a redelivered message, a reaper racing a late worker): transitions are conditional
`update()`s that only apply from the states they expect.

The writes a worker makes go through `_resilient`: a connection lost (a PostgreSQL restart, a
failover, a terminated backend) is closed and the write tried again, with growing pauses, for up
to JOBS_DB_RETRY_S. A write that still fails raises; the task base then puts the message back
on its queue (or the reconciler re-sends the job): the database is the truth, and a job is never
acknowledged without its outcome recorded or a way back.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import time
import traceback as tb
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models import F
from django.utils import timezone

from backoffice.services import audit_record
from jobs import hotpath
from jobs.models import JobRun

logger = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

ARGUMENTS_MAX_BYTES = 16_384


class StartDecision(enum.Enum):
    """What an attempt does after `jobrun_started`."""

    RUN = "run"
    GIVE_UP = "give_up"  # max_attempts attempts died without finishing
    DONE = "done"  # the job already reached a final state (a duplicate delivery)
    DUPLICATE = "duplicate"  # a live worker still holds this job (a late duplicate delivery)


def _resilient(write: Callable[P, T]) -> Callable[P, T]:
    """Retry `write` through a lost database connection (see the module docstring)."""

    @functools.wraps(write)
    def retrying(*args: P.args, **kwargs: P.kwargs) -> T:
        pause, waited = 0.2, 0.0
        while True:
            try:
                return write(*args, **kwargs)
            except (OperationalError, InterfaceError):
                # Inside a transaction the connection cannot be replaced: the caller's
                # transaction is lost anyway, and its own error handling takes over.
                if connection.in_atomic_block or waited >= settings.JOBS_DB_RETRY_S:
                    raise
                logger.warning("%s: database connection lost; retrying in %.1fs",
                               write.__name__, pause)  # fmt: skip
                connection_reset()
                time.sleep(pause)
                waited += pause
                pause = min(pause * 2, 5.0)

    return retrying


def connection_reset() -> None:
    """Drop a broken connection: the next query opens a new one (and sets the tenant's
    search path again)."""
    try:
        connection.close()
    except Exception:  # closing a dead socket may raise; it is gone either way
        connection.connection = None


def _capped(args: Any, kwargs: Any) -> tuple[Any, Any, bool]:
    encoded = json.dumps([args, kwargs], default=str)
    if len(encoded) <= ARGUMENTS_MAX_BYTES:
        return json.loads(encoded)[0], json.loads(encoded)[1], False
    return [encoded[: ARGUMENTS_MAX_BYTES // 2] + "…"], {}, True


def _summary(task_name: str, args: Any, kwargs: Any) -> str:
    parts = [repr(a) for a in (args or [])] + [f"{k}={v!r}" for k, v in (kwargs or {}).items()]
    return f"{task_name.rsplit('.', 1)[-1]}({', '.join(parts)})"[:200]


def jobrun_queued(
    *,
    task_id: str,
    task_name: str,
    tenant_id: int | None,
    tenant_slug: str,
    schema_name: str,
    args: Any,
    kwargs: Any,
    queue: str = "",
    retry_of: JobRun | None = None,
    periodic_task_name: str = "",
) -> bool:
    """Record a send. A resend of the same id (Celery's retry, the reconciler) keeps the
    existing row. True if this call wrote the row."""
    stored_args, stored_kwargs, truncated = _capped(args, kwargs)
    _, created = JobRun.objects.get_or_create(
        task_id=task_id,
        defaults={
            "task_name": task_name, "tenant_id": tenant_id, "tenant_slug": tenant_slug,
            "schema_name": schema_name, "queue": queue, "args": stored_args,
            "kwargs": stored_kwargs, "arguments_truncated": truncated,
            "summary": _summary(task_name, args, kwargs), "queued_at": timezone.now(),
            "retry_of": retry_of, "periodic_task_name": periodic_task_name[:200],
        },
    )  # fmt: skip
    return created


def jobrun_unsent(*, task_id: str) -> None:
    """A send that failed before the message left (Redis away): the row it wrote goes."""
    JobRun.objects.filter(task_id=task_id, state=JobRun.State.QUEUED).delete()


def _attempt_record(run: JobRun, state: str, error: str = "") -> dict[str, Any]:
    return {
        "attempt": run.attempt,
        "state": state,
        "worker": run.worker,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "ended_at": timezone.now().isoformat(),
        "error": error[:500],
    }


@_resilient
def jobrun_started(*, task_id: str, worker: str, max_attempts: int) -> tuple[StartDecision, Any]:
    """Open a new attempt. Returns (decision, attempt token); the token identifies this
    attempt for `jobrun_finished`."""
    now = timezone.now()
    if hotpath.attempt_open(task_id=task_id, worker=worker, now=now):
        return StartDecision.RUN, now  # the common case: one (prepared) statement
    run = JobRun.objects.filter(task_id=task_id).order_by().first()
    if run is None:
        return StartDecision.RUN, None  # an untracked send (e.g. raw send_task); nothing to record
    if run.is_final:
        return StartDecision.DONE, None
    if run.state == JobRun.State.RUNNING and run.worker != worker and _held_elsewhere(run):
        return StartDecision.DUPLICATE, None
    attempts = list(run.attempts)
    if run.state == JobRun.State.RUNNING:
        # The previous attempt never closed: its worker died without its main process noticing.
        attempts.append(_attempt_record(run, "lost", "worker died (no result recorded)"))
    lost = sum(1 for a in attempts if a["state"] == "lost")
    # Conditional on the state read above: of two deliveries racing here, one opens the attempt.
    same = JobRun.objects.filter(pk=run.pk, state=run.state, attempt=run.attempt)
    if lost >= max_attempts:
        same.update(
            state=JobRun.State.FAILED, attempts=attempts, finished_at=now,
            error_type="AttemptsExhausted",
            error_message=f"Gave up: {lost} attempts died before finishing.",
        )  # fmt: skip
        return StartDecision.GIVE_UP, None
    opened = same.update(
        state=JobRun.State.RUNNING, attempt=F("attempt") + 1, attempts=attempts, worker=worker,
        started_at=now, finished_at=None, progress_done=None, progress_total=None,
        progress_message="",
    )  # fmt: skip
    return (StartDecision.RUN, now) if opened else (StartDecision.DUPLICATE, None)


def _held_elsewhere(run: JobRun) -> bool:
    """Does the live worker that started this job's running attempt still hold it? Then this
    delivery is a duplicate (a re-send raced a slow worker): it must not run a second time."""
    from jobs.heartbeat import heartbeats_read

    try:
        return run.task_id in heartbeats_read().get(run.worker, set())
    except Exception:  # Redis away: no worker can hold anything we could ask about
        return False


@_resilient
def jobrun_finished(
    *,
    task_id: str,
    state: str,
    result: Any = None,
    exc: BaseException | None = None,
    artifact_url: str = "",
    attempt: Any = None,
    reason: str = "",
) -> None:
    """Close the current attempt: succeeded, failed, retrying or skipped (with `reason`). With
    `attempt` (the token from jobrun_started) only that attempt is closed, never a later one."""
    now = timezone.now()
    if (
        state == JobRun.State.SUCCEEDED and attempt is not None and exc is None
        and not reason and not artifact_url
    ):  # fmt: skip
        # The common case, once per job: one prepared statement.
        summary = json.loads(json.dumps(result, default=str)) if result is not None else None
        hotpath.attempt_succeed(task_id=task_id, attempt=attempt, result=summary, now=now)
        return
    fields: dict[str, Any] = {"state": state, "finished_at": now}
    if reason:
        fields["error_message"] = reason[:2000]
    if exc is not None:
        fields.update(
            error_type=type(exc).__name__,
            error_message=str(exc)[:2000],
            traceback="".join(tb.format_exception(exc))[-20_000:],
        )
    elif state == JobRun.State.SUCCEEDED:
        fields.update(error_type="", error_message="", traceback="")
    if result is not None:
        fields["result_summary"] = json.loads(json.dumps(result, default=str))
    if artifact_url:
        fields["artifact_url"] = artifact_url
    if state == JobRun.State.RETRYING:
        run = JobRun.objects.filter(task_id=task_id).order_by().first()
        if run is None:
            return
        fields["attempts"] = [*run.attempts, _attempt_record(run, "retrying", str(exc or ""))]
    rows = JobRun.objects.filter(task_id=task_id).exclude(state__in=JobRun.FINAL_STATES)
    if attempt is not None:
        rows = rows.filter(started_at=attempt)
    rows.update(**fields)


@_resilient
def jobrun_skipped(*, task_id: str, reason: str) -> None:
    JobRun.objects.filter(task_id=task_id).exclude(state__in=JobRun.FINAL_STATES).update(
        state=JobRun.State.SKIPPED, finished_at=timezone.now(), error_message=reason
    )


@_resilient
def jobrun_failed_before_start(
    *,
    task_id: str,
    exc: BaseException,
    task_name: str = "",
    tenant_id: int | None = None,
    schema_name: str = "",
) -> None:
    """A check refused the job before it ran (no tenant, unknown, mismatch): it never runs. A
    message nobody recorded (a raw send, a forged or stale message) gets a row of its own, so
    staff see every refusal in job history and Operations."""
    fields = {
        "state": JobRun.State.FAILED, "finished_at": timezone.now(),
        "error_type": type(exc).__name__, "error_message": str(exc)[:2000],
    }  # fmt: skip
    updated = (
        JobRun.objects.filter(task_id=task_id)
        .exclude(state__in=JobRun.FINAL_STATES)
        .update(**fields)
    )
    audit_record(actor=None, action="job.refused", detail={
        "task_id": task_id, "task": task_name, "reason": type(exc).__name__,
        "message": str(exc)[:500], "tenant_id": tenant_id, "schema": schema_name[:63],
    })  # fmt: skip
    if updated or JobRun.objects.filter(task_id=task_id).exists():
        return
    JobRun.objects.get_or_create(
        task_id=task_id,
        defaults={
            **fields, "task_name": task_name[:200], "tenant_id": tenant_id,
            "tenant_slug": "", "schema_name": schema_name[:63], "queued_at": timezone.now(),
            "summary": f"{task_name.rsplit('.', 1)[-1]} (refused message)"[:200],
        },
    )  # fmt: skip


@_resilient
def jobrun_progress(*, task_id: str, done: int, total: int | None, message: str) -> None:
    JobRun.objects.filter(task_id=task_id, state=JobRun.State.RUNNING).update(
        progress_done=done, progress_total=total, progress_message=message[:200]
    )


@_resilient
def jobrun_lost(*, task_id: str, reason: str, final: bool) -> None:
    """Called by the worker's main process when the pool process running the job died (the
    message is requeued: a new attempt follows) or was killed at its hard time limit (`final`:
    the message is acknowledged, no attempt follows)."""
    run = JobRun.objects.filter(task_id=task_id, state=JobRun.State.RUNNING).order_by().first()
    if run is None:
        return
    fields: dict[str, Any] = {
        "attempts": [*run.attempts, _attempt_record(run, "lost", reason)],
        "state": JobRun.State.LOST,
        "finished_at": timezone.now(),
        "error_type": "TimeLimitExceeded" if final else "WorkerLost",
        "error_message": reason,
    }
    JobRun.objects.filter(pk=run.pk, state=JobRun.State.RUNNING).update(**fields)


@_resilient
def jobrun_revoked(*, task_id: str, reason: str) -> None:
    JobRun.objects.filter(task_id=task_id).exclude(state__in=JobRun.FINAL_STATES).update(
        state=JobRun.State.REVOKED, finished_at=timezone.now(), error_message=reason
    )


def jobruns_reap() -> int:
    """Close as lost the attempts still `running` one hard time limit (plus a margin) after they
    started: their worker died before anyone could record it. Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    count = 0
    for run in JobRun.objects.filter(state=JobRun.State.RUNNING, started_at__lt=cutoff):
        jobrun_lost(
            task_id=run.task_id, reason="no sign of life after the hard time limit", final=False
        )
        count += 1
    return count


def jobruns_prune(*, older_than_days: int) -> int:
    cutoff = timezone.now() - timedelta(days=older_than_days)
    done = [*JobRun.FINAL_STATES, JobRun.State.LOST]
    deleted, _ = JobRun.objects.filter(queued_at__lt=cutoff, state__in=done).delete()
    return deleted
