"""Getting a job delivered when a service is away at the moment of sending or starting it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery.exceptions import Ignore, Reject

from jobs.errors import TRANSIENT_ERRORS
from jobs.refs import request_ref
from saas.errors import QUEUE_DOWN

logger = logging.getLogger(__name__)
# A message put back because the database is away is delivered again at once: pause first.
REQUEUE_PAUSE_S = 1.0


def send_after_commit(send: Callable[[], Any], name: str, task_id: str) -> None:
    """The send of a committed job. Its JobRun row is committed already: if Redis cannot take
    the message now, the row stays queued and the reconciler sends it once Redis is back, so
    the request that queued it is not failed for it."""
    try:
        send()
    except QUEUE_DOWN as exc:
        logger.warning("%s[%s] queued but not sent (%r); the reconciler will send it",
                       name, task_id, exc)  # fmt: skip


@contextmanager
def requeue_on_lost_database(task: Any) -> Iterator[None]:
    """Before the body runs, a database that stays unreachable (past the bookkeeping's own
    retries) sends the job again instead of failing it: nothing was done yet, and an
    acknowledged message with no outcome would be a lost job. Sent again at the front of its
    queue (the message itself, put back, would wait behind the backlog); if Redis will not take
    it either, the message goes back to its queue."""
    try:
        yield
    except TRANSIENT_ERRORS as exc:
        logger.warning("database unreachable before the task ran; job sent again: %r", exc)
        time.sleep(REQUEUE_PAUSE_S)  # not a tight loop of deliveries while the outage lasts
        request = task.request
        try:
            task.resend(str(request.id), request.args, request.kwargs, ref=request_ref(request),
                        queue=(request.delivery_info or {}).get("routing_key"))  # fmt: skip
        except QUEUE_DOWN:
            raise Reject(exc, requeue=True) from exc
        raise Ignore() from exc  # acknowledged: the copy sent above is the job now
