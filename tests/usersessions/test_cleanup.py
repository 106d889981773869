"""The session cleanup: batches that commit one by one, the maximum-age policy, the overlap
guard, and the jobs (tenant and public) on a real worker, recorded as JobRuns."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from celery.schedules import crontab
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from jobs.models import JobRun
from tenants.models import Tenant
from tests.helpers import session_keys, session_make, wait_for_state
from usersessions.cleanup import Batching
from usersessions.models import Session
from usersessions.services import CLEANUP_LOCK_KEY_SQL, sessions_cleanup
from usersessions.tasks import sessions_cleanup_platform_task, sessions_cleanup_task

pytestmark = pytest.mark.usefixtures("live_db")


def sessions_bulk(schema: str, count: int, *, expired: bool, prefix: str) -> None:
    """`count` sessions in one INSERT, expired or live, with realistic row sizes."""
    now = timezone.now()
    expires = now - timedelta(hours=1) if expired else now + timedelta(days=1)
    with schema_context(schema):
        Session.objects.bulk_create(
            Session(
                session_key=f"{prefix}{i:08d}".ljust(32, "x"), session_data="d" * 200,
                expire_date=expires, created_at=now - timedelta(days=1), user_agent="a" * 100,
            )
            for i in range(count)
        )  # fmt: skip


@pytest.fixture
def observer() -> Iterator[psycopg.Connection]:
    """A second connection to the test database: it sees only what was committed."""
    cfg = connection.settings_dict
    with psycopg.connect(
        host=cfg["HOST"] or None, port=cfg["PORT"] or None, user=cfg["USER"],
        password=cfg["PASSWORD"] or None, dbname=cfg["NAME"], autocommit=True,
    ) as conn:  # fmt: skip
        yield conn


def committed_count(observer: psycopg.Connection, schema: str) -> int:
    row = observer.execute(f"SELECT count(*) FROM {schema}.usersessions_session").fetchone()
    assert row is not None
    return int(row[0])


def test_small_backlogs_go_in_key_batches_each_committed_on_its_own(
    observer: psycopg.Connection,
) -> None:
    sessions_bulk("acme", 120, expired=True, prefix="old")
    sessions_bulk("acme", 30, expired=False, prefix="live")
    seen: list[int] = []

    def progress(done: int, total: int | None, message: str) -> None:
        seen.append(committed_count(observer, "acme"))

    result = sessions_cleanup(
        schema_name="acme",
        progress=progress,
        batching=Batching(key_batch=25, sweep_after_rows=10**9),
    )
    # Another connection saw each batch's deletions as soon as it returned: five transactions.
    assert seen == [125, 100, 75, 50, 30]
    assert (result["deleted"], result["remaining"], result["statements"]) == (120, 30, 5)
    assert result["swept"] is False and result["max_statement_s"] < 1
    assert session_keys("acme") == {f"live{i:08d}".ljust(32, "x") for i in range(30)}


def test_a_large_backlog_is_swept_by_block_ranges_each_committed_on_its_own(
    observer: psycopg.Connection,
) -> None:
    sessions_bulk("acme", 600, expired=True, prefix="old")
    sessions_bulk("acme", 60, expired=False, prefix="live")
    seen: list[int] = []
    result = sessions_cleanup(
        schema_name="acme",
        progress=lambda done, total, msg: seen.append(committed_count(observer, "acme")),
        batching=Batching(key_batch=10, sweep_after_rows=10, first_blocks=2, max_blocks=2),
    )
    assert result["swept"] is True and (result["deleted"], result["remaining"]) == (600, 60)
    # One key batch, then slices of two pages (~30 rows each): many short transactions, each
    # visible to another connection before the next began.
    assert result["statements"] > 10 and seen[0] == 650
    assert seen == sorted(seen, reverse=True) and len(set(seen)) > 10 and seen[-1] == 60


def test_the_maximum_age_deletes_old_sessions_that_have_not_expired() -> None:
    Tenant.objects.filter(slug="acme").update(session_max_age_days=7)
    old = session_make("acme", age=timedelta(days=8), expires_in=timedelta(days=30))
    young = session_make("acme", age=timedelta(days=6), expires_in=timedelta(days=30))
    globex_old = session_make("globex", age=timedelta(days=8), expires_in=timedelta(days=30))
    result = sessions_cleanup(schema_name="acme")
    assert (result["deleted"], result["remaining"], result["max_age_days"]) == (1, 1, 7)
    assert session_keys("acme") == {young} and old not in session_keys("acme")
    assert session_keys("globex") == {globex_old}  # globex has no policy


def test_policy_and_expiry_together_still_go_in_bounded_batches() -> None:
    Tenant.objects.filter(slug="acme").update(session_max_age_days=7)
    now = timezone.now()
    with schema_context("acme"):
        Session.objects.bulk_create(
            Session(
                session_key=f"s{i:07d}".ljust(32, "x"), session_data="d",
                created_at=now - timedelta(days=10 if i % 2 else 1),
                expire_date=now + timedelta(days=1 if i % 3 else -1),
            )
            for i in range(90)
        )  # fmt: skip
    sizes: list[int] = []

    def progress(done: int, total: int | None, message: str) -> None:
        sizes.append(done - sum(sizes))

    result = sessions_cleanup(
        schema_name="acme",
        progress=progress,
        batching=Batching(key_batch=10, sweep_after_rows=10**9),
    )
    # Too old (45) or expired (30), 15 of them both: 60 deleted, never more than 10 at a time.
    assert (result["deleted"], result["remaining"]) == (60, 30) and max(sizes) == 10
    assert result["statements"] == 7 and len(session_keys("acme")) == 30


def test_the_cleanup_refuses_to_run_inside_a_transaction() -> None:
    session_make("acme", expires_in=timedelta(seconds=-1))
    with pytest.raises(RuntimeError, match="outside atomic"), transaction.atomic():
        sessions_cleanup(schema_name="acme")
    assert len(session_keys("acme")) == 1


@pytest.mark.usefixtures("celery_worker")
def test_the_job_records_deleted_remaining_and_duration_on_its_jobrun() -> None:
    acme = Tenant.objects.get(slug="acme")
    sessions_bulk("acme", 40, expired=True, prefix="old")
    sessions_bulk("acme", 10, expired=False, prefix="live")
    result = sessions_cleanup_task.delay_for(acme)
    run = wait_for_state(result.id, "succeeded")
    summary = run.result_summary
    assert summary is not None
    assert (summary["schema"], summary["deleted"], summary["remaining"]) == ("acme", 40, 10)
    assert summary["duration_s"] >= 0 and run.tenant_slug == "acme" and run.queue == "long"
    assert run.progress_message == "40 sessions deleted"
    assert len(session_keys("acme")) == 10


@pytest.fixture
def lock_holder(observer: psycopg.Connection) -> Iterator[Any]:
    def hold(schema: str) -> None:
        observer.execute(f"SELECT pg_advisory_lock({CLEANUP_LOCK_KEY_SQL})", [schema])

    yield hold
    observer.execute("SELECT pg_advisory_unlock_all()")


@pytest.mark.usefixtures("celery_worker")
def test_a_cleanup_while_another_runs_is_skipped_and_recorded(lock_holder: Any) -> None:
    acme, globex = Tenant.objects.get(slug="acme"), Tenant.objects.get(slug="globex")
    expired = session_make("acme", expires_in=timedelta(seconds=-1))
    session_make("globex", expires_in=timedelta(seconds=-1))
    lock_holder("acme")  # as a running cleanup of acme would, from another connection

    skipped = wait_for_state(sessions_cleanup_task.delay_for(acme).id, "skipped", "succeeded")
    assert skipped.state == "skipped"
    assert skipped.error_message == "a session cleanup of acme is already running"
    assert skipped.result_summary == {"schema": "acme", "skipped": skipped.error_message}
    assert expired in session_keys("acme")
    # The lock is acme's alone: globex's cleanup runs meanwhile.
    other = wait_for_state(sessions_cleanup_task.delay_for(globex).id, "succeeded")
    assert other.result_summary is not None
    assert other.result_summary["deleted"] == 1 and session_keys("globex") == set()


@pytest.mark.usefixtures("celery_worker")
def test_the_public_cleanup_is_a_daily_platform_job_on_staff_sessions_only() -> None:
    entry = next(
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == sessions_cleanup_platform_task.name
    )
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    # celery-types' crontab does not declare the parsed fields (hour, minute, ...).
    assert schedule.hour == {3}  # type: ignore[attr-defined]  # once a day
    staff_expired = session_make("public", expires_in=timedelta(seconds=-1))
    staff_live = session_make("public")
    acme_expired = session_make("acme", expires_in=timedelta(seconds=-1))
    run = wait_for_state(sessions_cleanup_platform_task.delay().id, "succeeded")
    assert run.result_summary is not None
    assert run.result_summary["schema"] == "public" and run.result_summary["deleted"] == 1
    assert run.tenant_slug == "" and JobRun.objects.filter(pk=run.pk, schema_name="public").exists()
    assert session_keys("public") == {staff_live} and staff_expired not in session_keys("public")
    assert session_keys("acme") == {acme_expired}


def test_a_cleanup_with_nothing_to_delete_says_so() -> None:
    sessions_bulk("globex", 3, expired=False, prefix="live")
    messages: list[tuple[int, int | None, str]] = []
    sessions_cleanup(
        schema_name="globex", progress=lambda done, total, msg: messages.append((done, total, msg))
    )
    # Shown on the JobRun as "No expired sessions", not "0 0 sessions deleted".
    assert messages == [(0, None, "No expired sessions")]
