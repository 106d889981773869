"""Sessions: the cleanup job's work, and ending sessions when access ends or staff say so.

Every function names the schema it writes in; a tenant's sessions are only ever deleted in
that tenant's schema (the statements are schema-qualified or run in `schema_context`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.models import Tenant
from usersessions.cleanup import (
    DEFAULT_BATCHING,
    BatchedDelete,
    Batching,
    Progress,
    session_table,
)
from usersessions.models import Session
from usersessions.selectors import session_max_age

# The advisory lock a cleanup of a schema holds: a 64-bit key from the schema name, prefixed
# so it cannot meet another feature's locks. Session-level, not transaction-level: the job
# commits after every batch.
CLEANUP_LOCK_KEY_SQL = "hashtextextended('usersessions.cleanup:' || %s, 0)"


class SessionsCleanupBusy(Exception):
    """Another cleanup of the same schema is running."""


@contextmanager
def _cleanup_lock(schema_name: str) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_try_advisory_lock({CLEANUP_LOCK_KEY_SQL})", [schema_name])
        if not cursor.fetchone()[0]:
            raise SessionsCleanupBusy(f"a session cleanup of {schema_name} is already running")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT pg_advisory_unlock({CLEANUP_LOCK_KEY_SQL})", [schema_name])


def sessions_cleanup(
    *,
    schema_name: str,
    progress: Progress | None = None,
    batching: Batching = DEFAULT_BATCHING,
) -> dict[str, Any]:
    """Delete the schema's expired sessions and those past its maximum age, in batches that
    each commit on their own; never two cleanups of one schema at once (SessionsCleanupBusy).
    Returns what the JobRun shows: deleted, remaining (the sessions it kept: those active
    when it started), duration, statements."""
    if connection.in_atomic_block:
        raise RuntimeError("sessions_cleanup commits batch by batch: call it outside atomic().")
    started = time.perf_counter()
    now = timezone.now()
    max_age = session_max_age(schema_name=schema_name)
    doomed, kept, params = "expire_date < %s", "expire_date >= %s", [now]
    if max_age is not None:
        doomed, kept = f"{doomed} OR created_at < %s", f"{kept} AND created_at >= %s"
        params.append(now - max_age)
    with _cleanup_lock(schema_name):
        counted = time.perf_counter()
        with connection.cursor() as cursor:
            # The sessions this run keeps, counted before it deletes: the pages are then still
            # all-visible and the count an index-only scan of expire_date. Afterwards every
            # page the run touched needs a heap visit (a third of the run in bench/sessions.py).
            cursor.execute(
                f"SELECT count(*) FROM {session_table(schema_name)} WHERE {kept}", params
            )
            remaining = cursor.fetchone()[0]
        count_s = time.perf_counter() - counted
        stats = BatchedDelete(
            schema_name=schema_name,
            condition=doomed,
            params=params,
            batching=batching,
            progress=progress,
        ).run()
    return {
        "schema": schema_name,
        "deleted": stats.deleted,
        "remaining": remaining,
        "duration_s": round(time.perf_counter() - started, 3),
        "statements": stats.statements,  # delete batches
        "max_statement_s": round(max(stats.max_statement_s, count_s), 3),  # the count too
        "swept": stats.swept,
        "max_age_days": max_age.days if max_age is not None else None,
    }


def sessions_end(
    *,
    schema_name: str,
    session_keys: Iterable[str] | None = None,
    user_ids: Iterable[int] | None = None,
    keep_session_key: str | None = None,
) -> int:
    """End the named sessions, or every session of the named users, in one schema. Returns how
    many ended."""
    if session_keys is None and user_ids is None:
        raise ValueError("Name sessions or users; sessions_end_all ends every session.")
    with schema_context(schema_name):
        rows = Session.objects.all()
        if session_keys is not None:
            rows = rows.filter(session_key__in=list(session_keys))
        if user_ids is not None:
            rows = rows.filter(user_id__in=list(user_ids))
        if keep_session_key:
            rows = rows.exclude(session_key=keep_session_key)
        deleted, _ = rows.delete()
    return deleted


def sessions_end_all(
    *, schema_name: str, keep_session_key: str | None = None, batching: Batching = DEFAULT_BATCHING
) -> int:
    """End every session in one schema (a suspended tenant, an operator's "end all"), in
    bounded statements. Returns how many ended."""
    condition, params = "TRUE", []
    if keep_session_key:
        condition, params = "session_key <> %s", [keep_session_key]
    return (
        BatchedDelete(
            schema_name=schema_name, condition=condition, params=params, batching=batching
        )
        .run()
        .deleted
    )


def user_sessions_end(*, user_id: int, keep_session_key: str | None = None) -> dict[str, int]:
    """End a user's sessions wherever they may have one: every tenant they are a member of,
    and public (staff sessions; one indexed statement whether or not they are staff).
    Returns the count per schema."""
    schemas = [settings.PUBLIC_SCHEMA_NAME, *_member_schemas(user_id)]
    return {
        schema: sessions_end(
            schema_name=schema, user_ids=[user_id], keep_session_key=keep_session_key
        )
        for schema in schemas
    }


def _member_schemas(user_id: int) -> list[str]:
    return list(
        Tenant.objects.filter(memberships__user_id=user_id)
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )
