"""The tenant-aware beat scheduler, driven tick by tick against the real database, Redis and an
in-thread worker. Issue 4 builds on this (time zones, stagger, singleton, admin)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_tenants.utils import schema_context

from saas.celery import app
from tenants.beat import TenantScheduler
from tenants.models import Tenant
from tenants.services import tenant_status_set

pytestmark = pytest.mark.usefixtures("live_db", "celery_worker")


def periodic(
    schema: str,
    name: str,
    marker: int,
    task: str = "tests.worker_tasks.record_schema",
    due: bool = True,
) -> PeriodicTask:
    with schema_context(schema):
        every = IntervalSchedule.objects.create(every=1, period="days")
        return PeriodicTask.objects.create(
            name=name, task=task, interval=every, args=f"[{marker}]",
            last_run_at=timezone.now() - dt.timedelta(days=2 if due else 0),
        )  # fmt: skip


def markers(schema: str) -> list[int]:
    with schema_context(schema):
        return sorted(
            IntervalSchedule.objects.filter(period="days", every__gt=1).values_list(
                "every", flat=True
            )
        )


def scheduler() -> TenantScheduler:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("saas:beat:*"):  # earlier tests' leader lock and send guards
        client.delete(key)
    return TenantScheduler(app=app)


def tenant_keys(s: TenantScheduler) -> set[str]:
    s.tick()  # changes are picked up once per tick
    # The tests' own entries (tenants also have their default schedules).
    return {k for k in s.schedule if ":beat-" in k}


def test_the_same_name_in_two_tenants_is_two_entries_each_run_in_its_schema() -> None:
    acme_task = periodic("acme", "beat-nightly", 11)
    periodic("globex", "beat-nightly", 22)
    s = scheduler()
    assert tenant_keys(s) == {"acme:beat-nightly", "globex:beat-nightly"}
    for _ in range(10):
        s.tick()
    s.sync()
    deadline = time.monotonic() + 20
    while (markers("acme"), markers("globex")) != ([11], [22]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (markers("acme"), markers("globex")) == ([11], [22])
    with schema_context("acme"):
        row = PeriodicTask.objects.get(pk=acme_task.pk)
        assert row.total_run_count == 1 and row.last_run_at > timezone.now() - dt.timedelta(
            minutes=1
        )
    with schema_context("public"):
        assert not PeriodicTask.objects.filter(name="beat-nightly").exists()


def test_a_change_reloads_that_tenant_only() -> None:
    periodic("acme", "beat-a", 0, due=False)
    s = scheduler()
    assert tenant_keys(s) == {"acme:beat-a"}
    acme_entry = s.schedule["acme:beat-a"]
    periodic("globex", "beat-g", 0, due=False)
    assert tenant_keys(s) == {"acme:beat-a", "globex:beat-g"}
    assert s.schedule["acme:beat-a"] is acme_entry  # acme was not reloaded
    with schema_context("globex"):
        PeriodicTask.objects.filter(name="beat-g").update(enabled=False)
    from tenants.beat import schedules_changed

    schedules_changed("globex")  # a bulk update sends no signal: say so
    assert tenant_keys(s) == {"acme:beat-a"}


def test_inactive_tenants_have_no_entries_and_return_when_active() -> None:
    periodic("globex", "beat-g", 0, due=False)
    s = scheduler()
    globex = Tenant.objects.get(slug="globex")
    tenant_status_set(tenant=globex, status="suspended")
    assert tenant_keys(s) == set()
    tenant_status_set(tenant=globex, status="active")
    assert tenant_keys(s) == {"globex:beat-g"}


def test_a_tenant_schedule_may_only_name_a_tenant_task() -> None:
    periodic("acme", "beat-platform", 0, task="backoffice.tasks.jobruns_prune_task", due=False)
    periodic("acme", "beat-ok", 0, due=False)
    assert tenant_keys(scheduler()) == {"acme:beat-ok"}


def test_each_tick_writes_the_heartbeat_that_healthz_reports() -> None:
    import redis
    from django.conf import settings

    from saas.health import BEAT_HEARTBEAT_KEY

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(BEAT_HEARTBEAT_KEY)
    scheduler().tick()
    beat: Any = client.get(BEAT_HEARTBEAT_KEY)
    assert beat is not None and dt.datetime.fromisoformat(
        beat.decode()
    ) > timezone.now() - dt.timedelta(minutes=1)


def test_an_idle_tick_is_one_statement_and_one_redis_command() -> None:
    import redis

    periodic("acme", "beat-a", 0, due=False)
    s = scheduler()
    s.tick()
    s.tick()  # settle: the first ticks may pick up changes made while loading
    commands: list[str] = []
    original = redis.Redis.execute_command

    def counting(self: Any, *args: Any, **options: Any) -> Any:
        commands.append(str(args[0]))
        return original(self, *args, **options)

    redis.Redis.execute_command = counting  # type: ignore[method-assign]
    try:
        with CaptureQueriesContext(connection) as queries:
            s.tick()
    finally:
        redis.Redis.execute_command = original  # type: ignore[method-assign]
    assert len(queries.captured_queries) == 1, [q["sql"] for q in queries.captured_queries]
    assert commands == ["EVALSHA"]  # lock renewal and heartbeat, in one script


def test_run_now_in_a_tenant_admin_lands_on_the_job_and_runs_there() -> None:
    from django.contrib.auth.models import Group
    from django.test import Client

    from accounts.models import User
    from backoffice.models import JobRun
    from backoffice.roles import OPERATORS
    from tests.helpers import wait_for_state

    user = User.objects.create_user(
        "live-runner", "runner@example.com", "pw-long-1!", is_staff=True
    )
    user.groups.add(Group.objects.get(name=OPERATORS))
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    task = periodic("acme", "beat-now", 33, due=False)
    response = client.post(
        "/admin/t/acme/django_celery_beat/periodictask/",
        {"action": "run_now", "_selected_action": [task.pk]},
    )
    run = JobRun.objects.get(task_name="tests.worker_tasks.record_schema")
    assert response["Location"] == f"/admin/backoffice/jobrun/{run.pk}/change/"
    assert wait_for_state(run.task_id, "succeeded").result_summary["schema"] == "acme"
    assert (markers("acme"), markers("globex")) == ([33], [])

    # A platform task in a tenant's schedule is refused, not run in public or in acme.
    platform = periodic(
        "acme", "beat-platform-now", 0, task="backoffice.tasks.jobruns_prune_task", due=False
    )
    refused = client.post(
        "/admin/t/acme/django_celery_beat/periodictask/",
        {"action": "run_now", "_selected_action": [platform.pk]},
        follow=True,
    )
    assert "cannot run here" in refused.content.decode()
    assert not JobRun.objects.filter(task_name="backoffice.tasks.jobruns_prune_task").exists()


def test_a_standby_takes_over_and_never_resends_a_due_run(settings: Any) -> None:
    import redis

    from tenants.beat import LEADER_KEY

    settings.BEAT_LOCK_TTL_S = 3
    client = redis.Redis.from_url(settings.REDIS_URL)
    periodic("acme", "beat-once", 44)  # due now
    leader, standby = scheduler(), TenantScheduler(app=app)
    for _ in range(5):
        leader.tick()  # sends beat-once; its run state is not synced to the database yet
    assert standby.tick() > 0 and not standby._leader  # stands by, sends nothing
    deadline = time.monotonic() + 20
    while markers("acme") != [44] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert markers("acme") == [44]

    client.delete(LEADER_KEY)  # the leader dies (its lock expires)
    for _ in range(5):
        standby.tick()
    assert standby._leader
    time.sleep(1)
    # The new leader read the old last_run_at from the database, so beat-once looked due again:
    # the per-(schema, entry, due time) guard stopped the second send.
    assert markers("acme") == [44]
    assert leader.tick() > 0 and not leader._leader  # the old leader, back, stands by


def test_a_clean_stop_hands_leadership_over_at_once() -> None:
    import redis
    from django.conf import settings

    from tenants.beat import LEADER_KEY

    first = scheduler()
    first.tick()
    assert first._leader
    first.close()
    assert redis.Redis.from_url(settings.REDIS_URL).get(LEADER_KEY) is None
    second = TenantScheduler(app=app)
    second.tick()
    assert second._leader
