"""The task bases: flow 1 of docs/architecture.md (send → switch → run → restore).

`TrackedTask` holds what every tracked job shares: the send (a JobRun row, the message held for
the transaction's commit), the run inside a schema with its JobRun bookkeeping, retries and
progress. Its two kinds are siblings:
- `TenantTask` works on one tenant. Send: `apply_async` (which `delay`, signatures, chain,
  group, chord and `retry` all go through) adds the tenant's id and schema name as message
  headers, in a dict built fresh for each send. The tenant is, in order: an explicit `tenant=`,
  tenant headers the caller passed (only if they agree with the sender's schema), the schema
  the sender's connection is in, or — for sends the worker makes after a task body returned
  (the next link of a chain) — the tenant of the task being executed. A chord's body is stamped
  with the sender's tenant when the chord is sent; it never inherits from a header task. No
  tenant: `TenantMissing`, at once. Run: `__call__` (the tracer calls it instead of `run`
  because it is overridden) checks the headers against the tenant table — id and schema must
  agree, the tenant must exist and be active — then switches, runs, and restores.
- `PlatformTask` works on the public schema by declaration and takes no tenant.

Everything one execution needs is in local variables or on `self.request`: one task object
serves every execution in a process, so nothing per execution is kept on it.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from celery import Task
from celery.exceptions import Ignore, Retry
from celery.utils import uuid
from django.conf import settings
from django.db import connection, transaction

from jobs import bookkeeping
from jobs.bookkeeping import StartDecision
from jobs.delivery import requeue_on_lost_database, send_after_commit
from jobs.errors import (
    TRANSIENT_ERRORS,
    JobSkipped,
    TenantDeleted,
    TenantMismatch,
    TenantMissing,
    TenantTaskError,
    TenantUnknown,
)
from jobs.headers import (
    CELERY_HEADERS,
    TENANT_ID,
    TENANT_SCHEMA,
    TenantRef,
    ref_from,
    slug_for,
)
from jobs.refs import context_tenant_ref, request_ref, running_task_ref, signature_stamp
from jobs.signals import tenant_task_started
from jobs.tenant_cache import tenant_lookup
from jobs.transport import RESEND_PRIORITY
from saas.celery import queue_for
from saas.logcontext import current_tenant
from tenants.context import connection_tenant, connection_tenant_set
from tenants.models import Tenant

if TYPE_CHECKING:
    from celery.result import AsyncResult

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


class TrackedTask(Task[P, R]):
    """What tenant and platform tasks share: a JobRun per send, bookkeeping per attempt,
    retries on connection errors, progress. Not used directly: see TenantTask, PlatformTask."""

    abstract = True
    #: Record a JobRun for each send (admin history, progress). Off for very hot tasks.
    track = True
    #: Jobs that may run for minutes go to the long queue (saas.celery.queue_for).
    long_running = False
    #: Offered in the schedule form (and accepted by schedule imports). Jobs that only make sense
    #: sent by the code for one object (a restore, an import run, an offboarding) say False: a
    #: schedule must not restore or delete a tenant every night.
    schedulable = True
    #: A queue of its own instead of short/long (backups: saas.celery.BACKUP_QUEUE).
    queue_name: str | None = None
    #: Attempts whose process died (lost) before the job is given up. Celery retries (errors
    #: the task itself reported) are bounded separately, by max_retries.
    max_attempts = 3
    #: Run the body in one transaction with its "succeeded" record: exactly-once effect for the
    #: job's database work, whatever kills it when. Off for jobs that commit in steps (the
    #: session cleanup's batches); their bodies must be safe to run again.
    atomic = False
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    # Bounded by the start-up check with every other delay (saas.checks, saas.E001).
    retry_backoff_max = settings.JOBS_RETRY_BACKOFF_MAX_S
    retry_jitter = True
    max_retries = 5
    Request = "jobs.worker:TrackedRequest"

    # -- sending --------------------------------------------------------------------------
    def apply_async(
        self,
        args: Iterable[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        task_id: str | None = None,
        *extra: Any,
        tenant: Tenant | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> AsyncResult[R]:
        # A fresh dict on every send: a headers dict shared between sends once carried one
        # tenant's schema into another tenant's tasks (tenant-schemas-celery #170).
        headers = dict(options.pop("headers", None) or {})
        overriding = CELERY_HEADERS & headers.keys()
        if overriding:
            raise ValueError(f"{self.name}: headers may not set {sorted(overriding)}")
        context = context_tenant_ref()
        ref = self._target_ref(tenant, headers, context)
        headers.update(ref)
        if options.get("chord") is not None and context is not None:
            signature_stamp(options["chord"], context)
        for key in ("link", "link_error"):
            for signature in _as_list(options.get(key)):
                signature_stamp(signature, ref)
        resending_self = task_id is not None and task_id == self.request.id
        task_id = task_id or uuid()
        # A retry (a resend of the running task) has its row already, opened by this attempt:
        # writing it again would put the database between a failing job and its retry (on a
        # dead connection, Celery would drop the retry and the job with it).
        recording = self.track and not resending_self
        recorded = (
            self._record_queued(task_id, ref, args, kwargs, options, headers)
            if recording
            else False
        )
        send = super().apply_async

        def sent() -> AsyncResult[R]:
            return send(args, kwargs, task_id, *extra, headers=headers, **options)  # type: ignore[arg-type]

        if connection.in_atomic_block and not resending_self:
            # Sent when the transaction commits: the worker must see what the sender wrote
            # (the JobRun row included), and a rolled-back transaction sends nothing. Not a
            # retry (a resend of the running task): the Retry exception rolls the transaction
            # back, and a retry held for its commit would never be sent.
            transaction.on_commit(lambda: send_after_commit(sent, self.name, task_id))
            return self.AsyncResult(task_id)
        try:
            return sent()
        except Exception:
            if recorded:  # never sent, and the caller hears so: the row would be a ghost
                bookkeeping.jobrun_unsent(task_id=task_id)
            raise

    def resend(
        self,
        task_id: str,
        args: Any,
        kwargs: Any,
        *,
        ref: Mapping[str, Any],
        queue: str | None,
        countdown: float | None = None,
        retries: int = 0,
        priority: int | None = RESEND_PRIORITY,
    ) -> None:
        """Send a job that has its JobRun already once more, with the same id, ahead of every
        first send (RESEND_PRIORITY): after a fault it runs next, not behind the backlog. Its
        row is not written: the next attempt finds it, and the per-attempt guard makes a copy
        that arrives twice a no-op. (A job deferred while its tenant is restored goes again
        later, at its normal priority, keeping its retry count.)"""
        options: dict[str, Any] = {"headers": dict(ref), "retries": retries}
        if priority is not None:
            options["priority"] = priority
        if queue:
            options["queue"] = queue
        if countdown:
            options["countdown"] = countdown
        Task.apply_async(self, tuple(args or ()), dict(kwargs or {}), task_id, **options)

    def _target_ref(
        self,
        tenant: Tenant | Mapping[str, Any] | None,
        headers: dict[str, Any],
        context: TenantRef | None,
    ) -> TenantRef:
        raise NotImplementedError

    def _record_queued(
        self,
        task_id: str,
        ref: TenantRef,
        args: Any,
        kwargs: Any,
        options: Mapping[str, Any],
        headers: Mapping[str, Any],
    ) -> bool:
        return bookkeeping.jobrun_queued(
            task_id=task_id, task_name=self.name, tenant_id=ref[TENANT_ID],
            tenant_slug=slug_for(ref), schema_name=ref[TENANT_SCHEMA] or settings.PUBLIC_SCHEMA_NAME,
            args=list(args or []), kwargs=dict(kwargs or {}),
            queue=str(options.get("queue") or queue_for(self)),
            periodic_task_name=str(headers.get("periodic_task_name") or ""),
        )  # fmt: skip

    # -- running ---------------------------------------------------------------------------
    def _open(self, request: Any) -> None:
        """Open this attempt on the JobRun; a duplicate or finished job is not run again."""
        if not self.track:
            return
        decision, request.jobrun_attempt = bookkeeping.jobrun_started(
            task_id=str(request.id), worker=request.hostname or socket.gethostname(),
            max_attempts=self.max_attempts,
        )  # fmt: skip
        if decision is not StartDecision.RUN:
            raise Ignore()

    def _run_in(self, tenant: Tenant, request: Any, args: Any, kwargs: Any) -> Any:
        previous = connection_tenant()
        connection_tenant_set(tenant)
        log_token = current_tenant.set(tenant.slug)
        try:
            # Opened once switched: the attempt's "running" write carries the tenant's
            # `SET search_path`, one round trip for both (jobs.hotpath).
            with requeue_on_lost_database(self):
                self._open(request)
        except BaseException:
            current_tenant.reset(log_token)
            connection_tenant_set(previous)
            raise
        try:
            tenant_task_started.send(sender=type(self), task=self, tenant=tenant)
            if self.atomic:
                # The body's writes and the JobRun's "succeeded" commit together: a job is
                # either done and recorded, or neither (a crash in between cannot exist), so a
                # redelivery after the commit finds it final and does nothing.
                with transaction.atomic():
                    result = self.run(*args, **kwargs)
                    self._record_end("succeeded", result=result)
                return result
            result = self.run(*args, **kwargs)
        except JobSkipped as exc:
            self._record_end("skipped", result=exc.result, reason=str(exc))
            return exc.result
        except Retry as exc:
            if getattr(request, "retry_unrecorded", False):
                self._record_end("retrying", exc=exc.exc or exc)
            raise
        except Ignore:
            raise
        except Exception as exc:
            if self.atomic and isinstance(exc, TRANSIENT_ERRORS):
                # The connection went at the commit (an error in the body itself has retried
                # already): nothing was kept, so the job runs again.
                raise self.retry(exc=exc) from exc
            # SoftTimeLimitExceeded included. Not BaseException: a SystemExit means the process
            # is being killed (hard time limit, shutdown) and the worker's main process records
            # the attempt (TrackedRequest); a "failed" written here would hide that.
            self._record_end("failed", exc=exc)
            raise
        finally:
            current_tenant.reset(log_token)
            connection_tenant_set(previous)
        self._record_end("succeeded", result=result)
        return result

    def retry(self, *args: Any, **kwargs: Any) -> Any:
        # Record before Celery sends the new message: with a zero countdown another worker can
        # start the next attempt before this one would otherwise have written "retrying".
        if self.track and not self.request.called_directly:
            if connection.in_atomic_block:
                # A write now would be rolled back with the task's transaction by the Retry
                # exception itself: recorded once the exception has left the transaction.
                self.request.retry_unrecorded = True  # type: ignore[attr-defined]
            else:
                reason = kwargs.get("exc") or TenantTaskError("retry requested")
                try:
                    self._record_end("retrying", exc=reason)
                except TRANSIENT_ERRORS:
                    # The database stayed away: send the retry anyway. Its attempt finds the
                    # row still running and records this one as lost.
                    logger.warning("%s[%s]: retry not recorded", self.name, self.request.id)
        # A retry is work already under way: it goes ahead of the first sends (its eta, if
        # any, is kept by the worker that takes it).
        kwargs.setdefault("priority", RESEND_PRIORITY)
        return super().retry(*args, **kwargs)

    def _record_end(self, state: str, **fields: Any) -> None:
        # JobRun exists only in public, so whichever schema is active the write lands there.
        # Only the attempt this execution opened is closed: a late writer cannot overwrite the
        # next attempt.
        if self.track:
            attempt = getattr(self.request, "jobrun_attempt", None)
            bookkeeping.jobrun_finished(
                task_id=str(self.request.id), state=state, attempt=attempt, **fields
            )

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Report progress on the job's JobRun: at most one write a second, and always the
        last one (done == total)."""
        if not self.track or self.request.called_directly:
            return
        now = time.monotonic()
        last = getattr(self.request, "_progress_at", 0.0)
        if now - last < 1.0 and done != total:
            return
        self.request._progress_at = now  # type: ignore[attr-defined]
        bookkeeping.jobrun_progress(
            task_id=str(self.request.id), done=done, total=total, message=message
        )


class TenantTask(TrackedTask[P, R]):
    """Base for every task that works on one tenant's data. Declare with `@tenant_task`."""

    abstract = True
    #: A tenant still provisioning: retry this many times with backoff before failing.
    provisioning_max_retries = 5
    #: Run even while the tenant is being restored (the restore job itself); every other tenant
    #: task waits for the restore to finish.
    runs_while_restoring = False

    def delay_for(self, tenant: Tenant, *args: P.args, **kwargs: P.kwargs) -> AsyncResult[R]:
        """`delay` for an explicit tenant, from anywhere (the public admin, a platform task)."""
        return self.apply_async(args, kwargs, tenant=tenant)

    def _target_ref(
        self,
        tenant: Tenant | Mapping[str, Any] | None,
        headers: dict[str, Any],
        context: TenantRef | None,
    ) -> TenantRef:
        if tenant is not None:
            return ref_from(tenant)
        if headers.get(TENANT_ID) is not None:
            ref = ref_from(headers)
            if context is not None and context != ref:
                # Headers are data (a schedule row, a stored signature): they may not point a
                # task sent from one tenant's schema at another tenant.
                raise TenantMismatch(
                    f"{self.name}: headers name tenant {ref[TENANT_ID]} but it is sent from "
                    f"schema {context[TENANT_SCHEMA]!r}; pass tenant= to send for another tenant."
                )
            return ref
        if context is not None:
            return context
        ref_running = running_task_ref()
        if ref_running is None:
            raise TenantMissing(
                f"{self.name} is a tenant task: send it from a tenant context or pass tenant=."
            )
        return ref_running

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        request = self.request
        if request.called_directly:
            # A plain function call: it runs in the caller's schema, like any function.
            return self.run(*args, **kwargs)
        with requeue_on_lost_database(self):
            tenant = self._admit(request)
        return self._run_in(tenant, request, args, kwargs)

    def _admit(self, request: Any) -> Tenant:
        """The tenant this message may run for, or a refusal (recorded, never run)."""
        try:
            tenant = self._tenant_for_request(request)
        except TenantTaskError as exc:
            if self.track:
                bookkeeping.jobrun_failed_before_start(
                    task_id=str(request.id), exc=exc, task_name=self.name,
                    tenant_id=_int_or_none(getattr(request, TENANT_ID, None)),
                    schema_name=str(getattr(request, TENANT_SCHEMA, None) or ""),
                )  # fmt: skip
            raise
        if tenant.status in (Tenant.Status.SUSPENDED, Tenant.Status.ARCHIVED):
            if self.track:
                bookkeeping.jobrun_skipped(
                    task_id=str(request.id), reason=f"tenant {tenant.slug} is {tenant.status}"
                )
            raise Ignore()
        if tenant.status == Tenant.Status.PROVISIONING:
            self._defer_until_active(tenant, request)
        if tenant.status == Tenant.Status.RESTORING and not self.runs_while_restoring:
            self._defer_until_restored(tenant, request)
        return tenant

    def _defer_until_restored(self, tenant: Tenant, request: Any) -> None:
        """Send the job again a little later, as it is (same id, arguments and retry count),
        until the restore is over: deferred, not dropped. Not a Celery retry: that would spend
        the job's retry budget, and a large restore outlasts any retry schedule. A restore
        that dies is put back by the backups' recovery, so the wait ends."""
        waiting = TenantTaskError(f"tenant {tenant.slug} is being restored; the job waits for it")
        if self.track:
            bookkeeping.jobrun_finished(task_id=request.id, state="retrying", exc=waiting)
        self.resend(
            str(request.id), request.args, request.kwargs, ref=request_ref(request),
            queue=(request.delivery_info or {}).get("routing_key"),
            countdown=min(settings.RESTORING_DEFER_S, settings.CELERY_MAX_TASK_DELAY_S),
            retries=request.retries, priority=None,
        )  # fmt: skip
        raise Ignore()

    def _defer_until_active(self, tenant: Tenant, request: Any) -> None:
        if request.retries >= self.provisioning_max_retries:
            gave_up = TenantTaskError(f"tenant {tenant.slug} did not become active in time")
            if self.track:
                bookkeeping.jobrun_failed_before_start(task_id=str(request.id), exc=gave_up)
            raise gave_up
        waiting = TenantTaskError(f"tenant {tenant.slug} is still provisioning")
        if self.track:
            bookkeeping.jobrun_finished(task_id=request.id, state="retrying", exc=waiting)
        # Task.retry, not ours: the attempt is recorded above. No max_retries= here: Celery
        # stores that on the task object, which every execution in the process shares.
        countdown = min(2**request.retries, 30, settings.CELERY_MAX_TASK_DELAY_S)
        raise Task.retry(self, countdown=countdown, exc=waiting)

    def _tenant_for_request(self, request: Any) -> Tenant:
        tenant_id = getattr(request, TENANT_ID, None)
        schema = getattr(request, TENANT_SCHEMA, None)
        if tenant_id is None or not schema:
            raise TenantMissing(f"{self.name}[{request.id}] carries no tenant; refusing to run.")
        tenant = tenant_lookup(int(tenant_id))
        if tenant is None:
            raise TenantUnknown(f"{self.name}[{request.id}]: tenant {tenant_id} does not exist.")
        if tenant.schema_name != schema or tenant.is_public:
            raise TenantMismatch(
                f"{self.name}[{request.id}]: tenant {tenant_id} is schema {tenant.schema_name!r}, "
                f"the message says {schema!r}."
            )
        if tenant.status == Tenant.Status.DELETED:
            raise TenantDeleted(
                f"{self.name}[{request.id}]: tenant {tenant.slug} was deleted (its schema is "
                "gone); refusing to run."
            )
        return tenant


class PlatformTask(TrackedTask[P, R]):
    """A task that works on the platform (public schema) by declaration, never on a tenant."""

    abstract = True

    def _target_ref(
        self,
        tenant: Tenant | Mapping[str, Any] | None,
        headers: dict[str, Any],
        context: TenantRef | None,
    ) -> TenantRef:
        if tenant is not None:
            raise TenantTaskError(f"{self.name} is a platform task; it takes no tenant.")
        return {TENANT_ID: None, TENANT_SCHEMA: settings.PUBLIC_SCHEMA_NAME}

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        request = self.request
        if request.called_directly:
            return self.run(*args, **kwargs)
        public = Tenant(schema_name=settings.PUBLIC_SCHEMA_NAME, slug=settings.PUBLIC_SCHEMA_NAME)
        return self._run_in(public, request, args, kwargs)
