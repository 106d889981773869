"""The reconciler: the database is the truth for tracked jobs, Redis only carries them.

A tracked job that is not final (queued, retrying, running or lost) and has been in its state
longer than JOBS_RECONCILE_GRACE_S should be somewhere: waiting in its queue, or held by a live
worker (its heartbeat names the task ids it holds: reserved, waiting for an eta, running). A job
that is neither is re-sent, with the same task id:
- its message was lost with Redis's data (a restart without persistence, a FLUSHALL);
- its send failed (Redis was down when it was queued, or when a retry was sent);
- its worker died whole (SIGKILL, OOM, a lost machine): the message sits unacknowledged until
  Redis's visibility timeout (an hour by default); the reconciler drops that delivery and sends
  the job again within a minute or two.
A job that is merely queued for a long time (a long backlog) is in its queue: it is left alone.

Re-sending is safe because delivery is at least once and the effect exactly once: an attempt
opens only from a state that allows it (`jobrun_started`), a job already final is not run
again, and a duplicate of a job a live worker still holds is dropped. Candidates found orphaned
are looked at twice, a moment apart, so a message caught between Redis and a worker's
bookkeeping is not mistaken for a lost one.

Beat's leader runs it every JOBS_RECONCILE_INTERVAL_S; `manage.py jobs_reconcile` runs it once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from kombu import Exchange, Queue

from jobs import bookkeeping
from jobs.base import TrackedTask
from jobs.headers import TENANT_ID, TENANT_SCHEMA
from jobs.heartbeat import heartbeats_read
from jobs.models import JobRun
from jobs.transport import BrokerView, broker_view, unacked_forget
from saas.celery import app

logger = logging.getLogger(__name__)

# Looked at per pass, oldest first: a backlog of orphans is worked off over a few passes.
BATCH = 2000


@dataclass
class ReconcileResult:
    candidates: int = 0
    resent: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # could not be re-sent: closed as failed


def _candidates(now: datetime) -> list[JobRun]:
    cutoff = now - timedelta(seconds=settings.JOBS_RECONCILE_GRACE_S)
    # How long a row has been in its state: since it was queued, since its last attempt ended
    # (retrying, lost), since its attempt started (running).
    stale = (
        Q(state=JobRun.State.QUEUED, queued_at__lt=cutoff)
        | Q(state__in=[JobRun.State.RETRYING, JobRun.State.LOST], finished_at__lt=cutoff)
        | Q(state=JobRun.State.RUNNING, started_at__lt=cutoff)
    )
    return list(JobRun.objects.filter(stale).order_by("queued_at")[:BATCH])


def _orphans(runs: Sequence[JobRun], view: BrokerView, held: set[str]) -> list[JobRun]:
    """The runs that are in no queue and held by no live worker. A delivery younger than two
    heartbeats may belong to a live worker that has not said so yet: not an orphan (yet)."""
    recent = time.time() - 2 * settings.JOBS_HEARTBEAT_INTERVAL_S
    orphans = []
    for run in runs:
        if run.task_id in held or run.task_id in view.waiting:
            continue
        delivery = view.unacked.get(run.task_id)
        if delivery is not None and delivery.delivered_at > recent:
            continue
        orphans.append(run)
    return orphans


def _look(runs: Sequence[JobRun]) -> list[JobRun]:
    queues = {run.queue for run in runs if run.queue}
    return _orphans(runs, broker_view(queues), set().union(*heartbeats_read().values()))


def jobs_reconcile(*, confirm_pause_s: float = 1.0) -> ReconcileResult:
    result = ReconcileResult()
    runs = _candidates(timezone.now())
    result.candidates = len(runs)
    if not runs:
        return result
    suspects = _look(runs)
    if not suspects:
        return result
    time.sleep(confirm_pause_s)
    # Again, from fresh rows: a suspect that moved on (started, finished) is no longer one.
    fresh = {run.task_id: run for run in _candidates(timezone.now())}
    confirmed = _look([fresh[run.task_id] for run in suspects if run.task_id in fresh])
    queues = {run.queue for run in confirmed if run.queue}
    view = broker_view(queues)
    _queues_declare(queues)
    for run in confirmed:
        delivery = view.unacked.get(run.task_id)
        if delivery is not None:
            unacked_forget([delivery.tag])  # its consumer is gone: never delivered again
        if _resend(run):
            result.resent.append(run.task_id)
        else:
            result.refused.append(run.task_id)
    if result.resent or result.refused:
        logger.warning("reconciler: re-sent %d job(s), closed %d", len(result.resent),
                       len(result.refused))  # fmt: skip
    return result


def _queues_declare(queues: set[str]) -> None:
    """Declare the queues the re-sent jobs go to. Redis keeps the exchange-to-queue bindings
    as data: a FLUSHALL (or a restart without persistence) loses them, and a message published
    with no binding is dropped without a word. Workers declare their queues only when they
    connect, so the reconciler declares them before it sends."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for name in queues:
            Queue(name, Exchange(name, type="direct"), routing_key=name)(channel).declare()


def _resend(run: JobRun) -> bool:
    task = app.tasks.get(run.task_name)
    why = ""
    if not isinstance(task, TrackedTask):
        why = f"no tracked task named {run.task_name} is registered"
    elif run.arguments_truncated:
        why = "its arguments were too large to store, so it cannot be sent again"
    if why:
        bookkeeping.jobrun_failed_before_start(
            task_id=run.task_id, exc=RuntimeError(f"Lost and not re-sent: {why}.")
        )
        return False
    if run.state == JobRun.State.RUNNING:
        bookkeeping.jobrun_lost(
            task_id=run.task_id, reason="worker gone (no heartbeat); re-sent", final=False
        )
    assert isinstance(task, TrackedTask)
    task.resend(run.task_id, run.args, run.kwargs, queue=run.queue or None,
                ref={TENANT_ID: run.tenant_id, TENANT_SCHEMA: run.schema_name})  # fmt: skip
    return True
