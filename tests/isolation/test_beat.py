"""Beat and tenant isolation: entries keyed per schema, run in their own schema, reloaded per
tenant, tenant schedules limited to tenant tasks; driven tick by tick against the real database,
Redis and an in-thread worker."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_tenants.utils import schema_context

from tenants.models import Tenant
from tenants.services import tenant_status_set
from tests.helpers import host_client, markers, periodic, scheduler, tenant_keys

pytestmark = pytest.mark.usefixtures("live_db", "celery_worker")


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
    from beat.changelog import schedules_changed

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


def test_run_now_in_a_tenant_admin_lands_on_the_job_and_runs_there() -> None:
    from django.contrib.auth.models import Group

    from accounts.models import User
    from backoffice.roles import OPERATORS
    from jobs.models import JobRun
    from tests.helpers import wait_for_state

    user = User.objects.create_user(
        "live-runner", "runner@example.com", "pw-long-1!", is_staff=True
    )
    user.groups.add(Group.objects.get(name=OPERATORS))
    client = host_client("localhost", user)
    task = periodic("acme", "beat-now", 33, due=False)
    response = client.post(
        "/admin/t/acme/django_celery_beat/periodictask/",
        {"action": "run_now", "_selected_action": [task.pk]},
    )
    run = JobRun.objects.get(task_name="tests.worker_tasks.record_schema")
    assert response["Location"] == f"/admin/jobs/jobrun/{run.pk}/change/"
    summary = wait_for_state(run.task_id, "succeeded").result_summary
    assert summary is not None and summary["schema"] == "acme"
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
