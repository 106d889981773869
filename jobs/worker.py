"""Hooks that run in the worker's main process: what a pool process cannot record because it
was killed (SIGKILL, OOM, hard time limit) or its job was revoked. `TrackedRequest` is the
Request class of every tracked task (TrackedTask.Request); `jobrun_on_revoked` is connected to
Celery's `task_revoked` in JobsConfig.ready."""

from __future__ import annotations

import logging
from typing import Any

from celery.worker.request import Request

from jobs import bookkeeping
from jobs.base import TrackedTask
from jobs.headers import TENANT_ID, TENANT_SCHEMA

logger = logging.getLogger(__name__)


class TrackedRequest(Request):
    def on_failure(
        self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False
    ) -> Any:
        exc = getattr(exc_info.exception, "exc", exc_info.exception)
        was_lost = (
            isinstance(exc, SystemExit | KeyboardInterrupt)
            or type(exc).__name__ == "WorkerLostError"
        )
        if (
            was_lost
            and getattr(self.task, "track", False)
            and not getattr(self, "_already_revoked", False)
        ):
            # Before the job goes out again: the next attempt may start at once.
            _record(bookkeeping.jobrun_lost, task_id=self.id,
                    reason=f"worker process lost: {exc!r}"[:300], final=False)  # fmt: skip
            if self.task.acks_late and self._resend():
                # Sent again at the front of its queue; super() then finds the message
                # acknowledged and does not put it back (at the back of the backlog).
                self.acknowledge()
        # Always reached: a message left neither acknowledged nor rejected would wedge the
        # worker (it answers pings but takes no more jobs).
        return super().on_failure(
            exc_info, send_failed_event=send_failed_event, return_ok=return_ok
        )

    def _resend(self) -> bool:
        headers = self.request_dict
        task = self.task
        assert isinstance(task, TrackedTask)  # checked by the caller: track is TrackedTask's
        try:
            task.resend(
                self.id, self.args, self.kwargs,
                ref={TENANT_ID: headers.get(TENANT_ID), TENANT_SCHEMA: headers.get(TENANT_SCHEMA)},
                queue=(self.delivery_info or {}).get("routing_key"),
            )  # fmt: skip
        except Exception:
            # Redis away too: super() puts the message back, or the reconciler sends it.
            logger.exception("main process: lost job %s not sent again", self.id)
            return False
        return True

    def on_timeout(self, soft: bool, timeout: float) -> None:
        super().on_timeout(soft, timeout)
        if not soft and getattr(self.task, "track", False):
            _record(bookkeeping.jobrun_lost, task_id=self.id,
                    reason=f"hard time limit ({timeout}s) exceeded", final=True)  # fmt: skip


def _record(write: Any, **fields: Any) -> None:
    """A bookkeeping write from the main process that must never stop it: what cannot be
    recorded now, the next attempt or the reconciler records."""
    try:
        write(**fields)
    except Exception:
        logger.exception("main process: %s not recorded", write.__name__)


def jobrun_on_revoked(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    """A revoked job, queued or running (terminate): sent by the worker's main process."""
    if request is not None and getattr(sender, "track", False):
        how = "terminated" if kwargs.get("terminated") else "revoked"
        _record(bookkeeping.jobrun_revoked, task_id=request.id, reason=f"{how} by request")


def worker_connections_tidy(sender: Any = None, **kwargs: Any) -> None:
    """`task_prerun` / `task_postrun` receiver: around each task, what Django does around each
    request (`close_old_connections`): a connection that broke or is older than CONN_MAX_AGE is
    closed, and the next one is health-checked on first use (CONN_HEALTH_CHECKS; for a tenant
    task that check is the `SET search_path`, saas.db_backend). Left to Celery's Django fixup,
    every connection was closed before and after every task (CELERY_DB_REUSE_MAX turns that
    off): a new PostgreSQL connection per task, and the hot path's two statements (jobs.hotpath)
    prepared again on each — four round trips where two do."""
    from django.db import close_old_connections, connection

    request = getattr(sender, "request", None)
    if getattr(request, "is_eager", False) or connection.in_atomic_block:
        return  # run inside its caller's transaction (eager, a test): not ours to close
    close_old_connections()


def worker_commit_mode_set(**kwargs: Any) -> None:
    """`worker_init` / `worker_process_init` receiver: this process's database connections
    commit with JOBS_WORKER_SYNCHRONOUS_COMMIT (default off). The WAL keeps commits in order,
    so a database crash can only lose a suffix of them: a job's outcome is never kept without
    its effects, and the reconciler re-sends a job whose recorded state went back."""
    from django.conf import settings
    from django.db import connections

    from saas.db_backend import base as db_base

    mode = settings.JOBS_WORKER_SYNCHRONOUS_COMMIT
    if mode not in ("on", "off", "local", "remote_write", "remote_apply"):
        raise ValueError(
            f"JOBS_WORKER_SYNCHRONOUS_COMMIT={mode!r} is not a synchronous_commit value"
        )
    db_base.worker_commit_mode = None if mode == "on" else mode
    for conn in connections.all():
        conn.close()  # opened before: the next one takes the option
