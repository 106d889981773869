"""What the rest of the platform does while a tenant is being restored: its tasks wait (and run
afterwards), its beat entries pause, its portal shows a maintenance page; the restore job itself
runs. Only the restore moves a tenant out of this state."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask
from django_tenants.utils import schema_context

from accounts.models import User
from jobs.api import tenant_fanout
from jobs.models import JobRun
from jobs.tenant_cache import tenant_cache_clear
from tenants.models import Tenant
from tenants.services import TransitionRefused, tenant_status_set
from tenants.signals import tenant_status_changed
from tests.helpers import (
    host_client,
    markers_everywhere,
    periodic,
    portal_client,
    scheduler,
    tenant_keys,
    wait_for_state,
)
from tests.worker_tasks import record_schema

WAIT = 20


def _status(tenant: Tenant, status: str) -> None:
    """A committed status change, told to its receivers as the restore tells them."""
    old = Tenant.objects.get(pk=tenant.pk).status
    Tenant.objects.filter(pk=tenant.pk).update(status=status)
    tenant.status = status
    tenant_status_changed.send(sender=Tenant, tenant=tenant, old_status=old, new_status=status)
    tenant_cache_clear()


@pytest.mark.usefixtures("live_db", "celery_worker")
def test_a_restoring_tenants_task_waits_then_runs_once_after_the_restore() -> None:
    acme = Tenant.objects.get(slug="acme")
    _status(acme, Tenant.Status.RESTORING)
    result = record_schema.apply_async((31,), tenant=acme)
    run = wait_for_state(result.id, "retrying")
    assert "being restored" in run.error_message
    assert markers_everywhere()["acme"] == 0
    _status(acme, Tenant.Status.ACTIVE)
    assert result.get(timeout=WAIT) == {"schema": "acme", "markers": [31]}
    run = wait_for_state(result.id, "succeeded")
    # Each wait is recorded; it ran once, after the restore.
    assert run.attempts and {a["state"] for a in run.attempts} == {"retrying"}
    assert "being restored" in run.attempts[0]["error"]
    assert markers_everywhere() == {"public": 0, "acme": 1, "globex": 0}


@pytest.mark.usefixtures("live_db")
def test_a_fanout_reaches_a_restoring_tenant_so_its_job_waits_instead_of_being_dropped() -> None:
    acme = Tenant.objects.get(slug="acme")
    Tenant.objects.filter(pk=acme.pk).update(status=Tenant.Status.RESTORING)
    Tenant.objects.filter(slug="globex").update(status=Tenant.Status.SUSPENDED)
    ids = tenant_fanout(record_schema, args=[0], window_s=0)
    assert list(JobRun.objects.filter(task_id__in=ids).values_list("tenant_slug", flat=True)) == [
        "acme"
    ]


@pytest.mark.usefixtures("live_db")
def test_a_restoring_tenants_beat_entries_pause_and_come_back() -> None:
    periodic("acme", "beat-restoring", 0, due=False)
    periodic("globex", "beat-other", 0, due=False)
    s = scheduler()
    assert tenant_keys(s) == {"acme:beat-restoring", "globex:beat-other"}
    acme = Tenant.objects.get(slug="acme")
    _status(acme, Tenant.Status.RESTORING)
    assert tenant_keys(s) == {"globex:beat-other"}
    _status(acme, Tenant.Status.ACTIVE)
    assert tenant_keys(s) == {"acme:beat-restoring", "globex:beat-other"}


def test_the_portal_shows_a_maintenance_page_and_reads_nothing_in_the_schema(
    acme: Tenant, alice: User
) -> None:
    signed_in = portal_client(acme, alice)
    Tenant.objects.filter(pk=acme.pk).update(status=Tenant.Status.RESTORING)
    # Every path, signed in or not, downloads included; and nothing is read in the tenant's
    # schema (the one being swapped), not even the session.
    for client, path in [
        (signed_in, "/"),
        (signed_in, "/downloads/"),
        (host_client("acme.localhost"), "/accounts/login/"),
    ]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        assert not [q for q in queries if "usersessions" in q["sql"] or '"acme".' in q["sql"]]
        assert response.status_code == 503, path
        assert response["Retry-After"] == "60"
        page = response.content.decode()
        assert "Down for maintenance" in page and "Acme Corp" in page
        assert "alice" not in page
    assert host_client("acme.localhost").get("/healthz").status_code == 200
    # Globex is not in maintenance.
    assert host_client("globex.localhost").get("/accounts/login/").status_code == 200


def test_staff_cannot_move_a_tenant_out_of_restoring(acme: Tenant) -> None:
    Tenant.objects.filter(pk=acme.pk).update(status=Tenant.Status.RESTORING)
    for status in ("active", "suspended", "archived"):
        with pytest.raises(TransitionRefused):
            tenant_status_set(tenant=acme, status=status)


def test_a_restoring_tenants_admin_is_read_only(operator_client: Client, acme: Tenant) -> None:
    task = periodic("acme", "beat-during-restore", 0, due=False)
    Tenant.objects.filter(pk=acme.pk).update(status=Tenant.Status.RESTORING)
    url = f"/admin/t/acme/django_celery_beat/periodictask/{task.pk}/change/"
    assert operator_client.get(url).status_code == 200
    refused = operator_client.post(url, {"name": "changed"})
    assert refused.status_code == 403 and "being restored" in refused.content.decode()
    with schema_context("acme"):
        assert PeriodicTask.objects.filter(name="beat-during-restore").exists()
