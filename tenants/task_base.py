"""The tenant-aware Celery task base: flow 1 of docs/architecture.md (send → switch → run →
restore).

Send: `apply_async` (which `delay`, signatures, chain, group, chord and `retry` all go through)
adds the tenant's id and schema name as message headers, in a dict built fresh for each send.
The tenant is, in order: an explicit `tenant=` option, tenant headers the caller passed (only
if they agree with the sender's schema), the schema the sender's connection is in, or — for
sends the worker makes after a task body returned (the next link of a chain) — the tenant of
the task being executed. A chord's body is stamped with the sender's tenant when the chord is
sent; it never inherits from a header task. No tenant: `TenantMissing`, at once. Inside a
transaction the message is held until the commit.

Run: `__call__` (the tracer calls it instead of `run` because it is overridden) checks the
headers against the tenant table — id and schema must agree, the tenant must exist and be
active — then switches the connection, runs, and restores the previous schema in `finally`.
Everything it needs is in local variables: one task object serves every execution in a
process, so nothing per-execution is kept on it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Mapping
from typing import Any

import redis
from celery import Task, current_task, shared_task
from celery.exceptions import Ignore, Retry
from celery.signals import task_revoked
from celery.utils import uuid
from celery.worker.request import Request
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from kombu.exceptions import OperationalError as KombuOperationalError

from backoffice import jobs
from saas.celery import queue_for
from saas.logcontext import current_tenant
from tenants.models import Tenant
from tenants.signals import tenant_status_changed, tenant_task_started

TENANT_ID = "tenant_id"
TENANT_SCHEMA = "tenant_schema"

# Connection errors that a later attempt can get past. Anything else is a bug or bad input and
# fails at once.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, redis.ConnectionError, KombuOperationalError)


class TenantTaskError(Exception):
    """A tenant task refused to run. Never retried: the message itself is wrong."""


class TenantMissing(TenantTaskError):
    pass


class TenantUnknown(TenantTaskError):
    pass


class TenantMismatch(TenantTaskError):
    pass


class JobSkipped(Exception):
    """Raised by a task body that decided not to do its work (another run holds the lock):
    the JobRun is closed as `skipped` with this reason and `result`, and the task returns
    `result`."""

    def __init__(self, reason: str, *, result: Any = None) -> None:
        super().__init__(reason)
        self.result = result


def tenant_ref(tenant: Tenant) -> dict[str, Any]:
    """The headers that carry a tenant. Both parts are checked at run time: the id alone would
    not notice a restore that swapped schemas; the schema alone, a name reused after deletion."""
    return {TENANT_ID: tenant.pk, TENANT_SCHEMA: tenant.schema_name}


# --- Tenant lookup, cached per worker process ------------------------------------------------
# All tenants are loaded in one query and kept TENANT_CACHE_TTL_S seconds: one query per
# process per interval whatever the number of tenants, instead of one per tenant.
_tenant_cache: dict[int, Tenant] = {}
_tenant_cache_expires = 0.0


def tenant_lookup(tenant_id: int) -> Tenant | None:
    """The tenant by id, from the per-process cache, so a status change made elsewhere reaches
    every worker within TENANT_CACHE_TTL_S (and at once in the process that made it, through
    `tenant_status_changed`). An id the cache does not know is looked up on its own."""
    global _tenant_cache, _tenant_cache_expires
    now = time.monotonic()
    if now >= _tenant_cache_expires:
        _tenant_cache = {t.pk: t for t in Tenant.objects.all()}
        _tenant_cache_expires = now + settings.TENANT_CACHE_TTL_S
    tenant = _tenant_cache.get(tenant_id)
    if tenant is None:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is not None:
            _tenant_cache[tenant_id] = tenant
    return tenant


def tenant_cache_clear(**kwargs: Any) -> None:
    global _tenant_cache_expires
    _tenant_cache.clear()
    _tenant_cache_expires = 0.0


tenant_status_changed.connect(tenant_cache_clear, dispatch_uid="tenant_task_cache_clear")


# --- Sending ---------------------------------------------------------------------------------
def _ref_from(value: Tenant | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, Tenant):
        return tenant_ref(value)
    return {TENANT_ID: value[TENANT_ID], TENANT_SCHEMA: value[TENANT_SCHEMA]}


def _context_tenant_ref() -> dict[str, Any] | None:
    """The tenant whose schema the sender's connection is in, if any."""
    tenant = connection.tenant
    if tenant is None or tenant.schema_name == settings.PUBLIC_SCHEMA_NAME:
        return None
    if isinstance(tenant, Tenant) and tenant.pk is not None:
        return tenant_ref(tenant)
    # schema_context() sets a stand-in with a schema name only.
    found = Tenant.objects.filter(schema_name=tenant.schema_name).only("pk", "schema_name").first()
    if found is None:
        raise TenantUnknown(f"the current schema {tenant.schema_name!r} is not a tenant")
    return tenant_ref(found)


def _running_task_ref() -> dict[str, Any] | None:
    """The tenant of the task being executed, for what the worker sends after a body returned
    (the next link of a chain). Not for a chord's body: its header tasks may belong to several
    tenants, and "whichever finished last" is no answer."""
    running = current_task
    request = getattr(running, "request", None) if running else None
    if request is None or getattr(request, TENANT_ID, None) is None:
        return None
    if getattr(request, "chord", None):
        raise TenantMissing(
            "a chord's body has no tenant of its own: send the chord from a tenant context, "
            "or set tenant= on the body"
        )
    return {TENANT_ID: getattr(request, TENANT_ID), TENANT_SCHEMA: getattr(request, TENANT_SCHEMA)}


def _stamp(signature: Any, ref: Mapping[str, Any]) -> None:
    """Give a follow-up signature (chord body, link) a tenant unless it names one already."""
    options = getattr(signature, "options", None)
    if options is None or options.get("tenant") is not None:
        return
    headers = options.get("headers") or {}
    if headers.get(TENANT_ID) is None:
        options["headers"] = {**headers, **ref}  # a new dict, never shared


class TenantTask(Task):
    """Base for every task that works on one tenant's data. Declare with `@tenant_task`."""

    abstract = True
    #: Record a JobRun for each send (admin history, progress). Off for very hot tasks.
    track = True
    #: Attempts whose process died (lost) before the job is given up. Celery retries (errors
    #: the task itself reported) are bounded separately, by max_retries.
    max_attempts = 3
    #: A tenant still provisioning: retry this many times with backoff before failing.
    provisioning_max_retries = 5
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 5
    Request = "tenants.task_base:TrackedRequest"

    # -- sending --------------------------------------------------------------------------
    def apply_async(
        self,
        args: Iterable[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        task_id: str | None = None,
        *extra: Any,
        tenant: Tenant | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        # A fresh dict on every send: a headers dict shared between sends once carried one
        # tenant's schema into another tenant's tasks (tenant-schemas-celery #170).
        headers = dict(options.pop("headers", None) or {})
        context = _context_tenant_ref()
        ref = self._target_ref(tenant, headers, context)
        headers.update(ref)
        if options.get("chord") is not None and context is not None:
            _stamp(options["chord"], context)
        for key in ("link", "link_error"):
            for signature in _as_list(options.get(key)):
                _stamp(signature, ref)
        resending_self = task_id is not None and task_id == self.request.id
        task_id = task_id or uuid()
        if self.track:
            self._record_queued(task_id, ref, args, kwargs, options)
        if connection.in_atomic_block and not resending_self:
            # Sent when the transaction commits: the worker must see what the sender wrote
            # (the JobRun row included), and a rolled-back transaction sends nothing. Not a
            # retry (a resend of the running task): the Retry exception rolls the transaction
            # back, and a retry held for its commit would never be sent.
            transaction.on_commit(
                lambda: Task.apply_async(
                    self, args, kwargs, task_id, *extra, headers=headers, **options
                )
            )
            return self.AsyncResult(task_id)
        return super().apply_async(args, kwargs, task_id, *extra, headers=headers, **options)

    def _target_ref(
        self,
        tenant: Tenant | Mapping[str, Any] | None,
        headers: dict[str, Any],
        context: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if tenant is not None:
            return _ref_from(tenant)
        if headers.get(TENANT_ID) is not None:
            ref = _ref_from(headers)
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
        ref = _running_task_ref()
        if ref is None:
            raise TenantMissing(
                f"{self.name} is a tenant task: send it from a tenant context or pass tenant=."
            )
        return ref

    def _record_queued(
        self,
        task_id: str,
        ref: Mapping[str, Any],
        args: Any,
        kwargs: Any,
        options: Mapping[str, Any],
    ) -> None:
        schema = ref.get(TENANT_SCHEMA) or settings.PUBLIC_SCHEMA_NAME
        jobs.jobrun_queued(
            task_id=task_id, task_name=self.name, tenant_id=ref.get(TENANT_ID),
            tenant_slug=_slug_for(ref), schema_name=schema, args=list(args or []),
            kwargs=dict(kwargs or {}), queue=str(options.get("queue") or queue_for(self)),
        )  # fmt: skip

    def delay_for(self, tenant: Tenant, *args: Any, **kwargs: Any) -> Any:
        """`delay` for an explicit tenant, from anywhere (the public admin, a platform task)."""
        return self.apply_async(args, kwargs, tenant=tenant)

    # -- running ---------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request
        if request.called_directly:
            # A plain function call: it runs in the caller's schema, like any function.
            return self.run(*args, **kwargs)
        try:
            tenant = self._tenant_for_request(request)
        except TenantTaskError as exc:
            if self.track:
                jobs.jobrun_failed_before_start(task_id=request.id, exc=exc)
            raise
        if tenant.status in (Tenant.Status.SUSPENDED, Tenant.Status.ARCHIVED):
            if self.track:
                jobs.jobrun_skipped(
                    task_id=request.id, reason=f"tenant {tenant.slug} is {tenant.status}"
                )
            raise Ignore()
        if tenant.status == Tenant.Status.PROVISIONING:
            self._defer_until_active(tenant, request)
        return self._run_in(tenant, request, args, kwargs)

    def _defer_until_active(self, tenant: Tenant, request: Any) -> None:
        if request.retries >= self.provisioning_max_retries:
            gave_up = TenantTaskError(f"tenant {tenant.slug} did not become active in time")
            if self.track:
                jobs.jobrun_failed_before_start(task_id=request.id, exc=gave_up)
            raise gave_up
        waiting = TenantTaskError(f"tenant {tenant.slug} is still provisioning")
        if self.track:
            jobs.jobrun_finished(task_id=request.id, state="retrying", exc=waiting)
        # Task.retry, not ours: the attempt is recorded above. No max_retries= here: Celery
        # stores that on the task object, which every execution in the process shares.
        raise Task.retry(self, countdown=min(2**request.retries, 30), exc=waiting)

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
        return tenant

    def _run_in(self, tenant: Tenant, request: Any, args: Any, kwargs: Any) -> Any:
        if self.track:
            decision, request.jobrun_attempt = jobs.jobrun_started(
                task_id=request.id, worker=request.hostname or socket.gethostname(),
                max_attempts=self.max_attempts,
            )  # fmt: skip
            if decision != "run":
                raise Ignore()
        previous = connection.tenant
        connection.set_tenant(tenant)
        log_token = current_tenant.set(tenant.slug)
        try:
            tenant_task_started.send(sender=type(self), task=self, tenant=tenant)
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
            # SoftTimeLimitExceeded included. Not BaseException: a SystemExit means the process
            # is being killed (hard time limit, shutdown) and the worker's main process records
            # the attempt (TrackedRequest); a "failed" written here would hide that.
            self._record_end("failed", exc=exc)
            raise
        finally:
            current_tenant.reset(log_token)
            if previous is None:
                connection.set_schema_to_public()
            else:
                connection.set_tenant(previous)
        self._record_end("succeeded", result=result)
        return result

    def retry(self, *args: Any, **kwargs: Any) -> Any:
        # Record before Celery sends the new message: with a zero countdown another worker can
        # start the next attempt before this one would otherwise have written "retrying".
        if self.track and not self.request.called_directly:
            if connection.in_atomic_block:
                # A write now would be rolled back with the task's transaction by the Retry
                # exception itself: recorded once the exception has left the transaction.
                self.request.retry_unrecorded = True
            else:
                reason = kwargs.get("exc") or TenantTaskError("retry requested")
                self._record_end("retrying", exc=reason)
        return super().retry(*args, **kwargs)

    def _record_end(self, state: str, **fields: Any) -> None:
        # JobRun exists only in public, so whichever schema is active the write lands there.
        # Only the attempt this execution opened is closed: a late writer cannot overwrite the
        # next attempt.
        if self.track:
            attempt = getattr(self.request, "jobrun_attempt", None)
            jobs.jobrun_finished(task_id=self.request.id, state=state, attempt=attempt, **fields)

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Report progress on the job's JobRun: at most one write a second, and always the
        last one (done == total)."""
        if not self.track or self.request.called_directly:
            return
        now = time.monotonic()
        last = getattr(self.request, "_progress_at", 0.0)
        if now - last < 1.0 and done != total:
            return
        self.request._progress_at = now
        jobs.jobrun_progress(task_id=self.request.id, done=done, total=total, message=message)


class PlatformTask(TenantTask):
    """A task that works on the platform (public schema) by declaration, never on a tenant."""

    abstract = True

    def _target_ref(
        self, tenant: Any, headers: dict[str, Any], context: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        if tenant is not None:
            raise TenantTaskError(f"{self.name} is a platform task; it takes no tenant.")
        return {TENANT_ID: None, TENANT_SCHEMA: settings.PUBLIC_SCHEMA_NAME}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request
        if request.called_directly:
            return self.run(*args, **kwargs)
        public = Tenant(schema_name=settings.PUBLIC_SCHEMA_NAME, slug="public")
        return self._run_in(public, request, args, kwargs)


class TrackedRequest(Request):
    """Runs in the worker's main process: records what the pool process could not, because it
    was killed (SIGKILL, OOM) or hit its hard time limit."""

    def on_failure(
        self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False
    ) -> Any:
        exc = getattr(exc_info.exception, "exc", exc_info.exception)
        was_lost = (
            isinstance(exc, SystemExit | KeyboardInterrupt)
            or type(exc).__name__ == "WorkerLostError"
        )
        if was_lost and getattr(self.task, "track", False) and not self._already_revoked:
            # Before super(): it requeues the message, and the next attempt may start at once.
            jobs.jobrun_lost(
                task_id=self.id, reason=f"worker process lost: {exc!r}"[:300], final=False
            )
        return super().on_failure(
            exc_info, send_failed_event=send_failed_event, return_ok=return_ok
        )

    def on_timeout(self, soft: bool, timeout: float) -> None:
        super().on_timeout(soft, timeout)
        if not soft and getattr(self.task, "track", False):
            jobs.jobrun_lost(
                task_id=self.id, reason=f"hard time limit ({timeout}s) exceeded", final=True
            )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _slug_for(ref: Mapping[str, Any]) -> str:
    # A schema name is its slug with hyphens as underscores (tenants.models.schema_name_for).
    if ref.get(TENANT_ID) is None:
        return ""
    return str(ref.get(TENANT_SCHEMA, "")).replace("_", "-")


def is_tenant_task(task: Any) -> bool:
    """May this task be sent for a tenant? (Platform tasks derive from TenantTask but may not.)"""
    return isinstance(task, TenantTask) and not isinstance(task, PlatformTask)


def tenant_task(*args: Any, **options: Any) -> Any:
    """Declare a tenant task: `@tenant_task(long_running=True)` on `def job(self, …)`."""
    return shared_task(*args, base=TenantTask, bind=True, **options)


def platform_task(*args: Any, **options: Any) -> Any:
    """Declare a task that runs in the public schema by design."""
    return shared_task(*args, base=PlatformTask, bind=True, **options)


# --- Sending helpers for request code and fan-out --------------------------------------------
def task_enqueue(
    task: TenantTask,
    *,
    tenant: Tenant | None,
    args: Iterable[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    **options: Any,
) -> str:
    """The send for request code: inside the request's transaction the JobRun row is written at
    once and the message goes out on commit (see `apply_async`). Returns the task id."""
    return task.apply_async(list(args), dict(kwargs or {}), tenant=tenant, **options).id


def tenant_fanout(
    task: TenantTask,
    *,
    args: Iterable[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    window_s: int | None = None,
) -> list[str]:
    """Send `task` once for every active tenant, spread evenly over `window_s` seconds (default
    TENANT_FANOUT_WINDOW_S) so a nightly job does not hit every schema in the same second.
    Tenants that are not active are skipped."""
    window = settings.TENANT_FANOUT_WINDOW_S if window_s is None else window_s
    if window > settings.CELERY_MAX_TASK_DELAY_S:
        raise ValueError("the fan-out window exceeds CELERY_MAX_TASK_DELAY_S")
    tenants = list(
        Tenant.objects.filter(status=Tenant.Status.ACTIVE)
        .exclude(schema_name="public")
        .order_by("pk")
    )
    ids = []
    for i, tenant in enumerate(tenants):
        countdown = window * i / len(tenants) if window else 0
        result = task.apply_async(
            list(args), dict(kwargs or {}), tenant=tenant, countdown=countdown
        )
        ids.append(result.id)
    return ids


@task_revoked.connect(dispatch_uid="jobrun_revoked")
def _jobrun_on_revoked(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    # Sent by the worker's main process for a revoked job, queued or running (terminate).
    if request is not None and getattr(sender, "track", False):
        how = "terminated" if kwargs.get("terminated") else "revoked"
        jobs.jobrun_revoked(task_id=request.id, reason=f"{how} by request")
