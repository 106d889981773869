"""Fail closed: a tenant task with no tenant, an unknown or deleted tenant, or an id and schema
that disagree never runs (in public or anywhere); suspended tenants' tasks are skipped;
provisioning tenants' tasks wait."""

from __future__ import annotations

import time

import pytest
from celery.result import AsyncResult

from jobs.tenant_cache import tenant_cache_clear
from saas.celery import app
from tenants.models import Tenant
from tests.helpers import markers_everywhere, wait_for_state
from tests.worker_tasks import record_schema

pytestmark = pytest.mark.usefixtures("live_db", "celery_worker")
WAIT = 20


def test_a_message_without_tenant_headers_fails_and_never_runs() -> None:
    result = app.send_task("tests.worker_tasks.record_schema", args=[5])
    with pytest.raises(Exception, match="carries no tenant"):
        result.get(timeout=WAIT)
    assert markers_everywhere() == {"public": 0, "acme": 0, "globex": 0}


def test_an_unknown_or_deleted_tenant_fails_clearly() -> None:
    result = record_schema.apply_async((6,), tenant={"tenant_id": 987654, "tenant_schema": "acme"})
    with pytest.raises(Exception, match="does not exist"):
        result.get(timeout=WAIT)
    run = wait_for_state(result.id, "failed")
    assert run.error_type == "TenantUnknown" and run.attempt == 0
    assert markers_everywhere() == {"public": 0, "acme": 0, "globex": 0}


def test_an_id_and_schema_that_disagree_fail() -> None:
    acme = Tenant.objects.get(slug="acme")
    result = record_schema.apply_async(
        (7,), tenant={"tenant_id": acme.pk, "tenant_schema": "globex"}
    )
    with pytest.raises(Exception, match="the message says 'globex'"):
        result.get(timeout=WAIT)
    assert wait_for_state(result.id, "failed").error_type == "TenantMismatch"
    assert markers_everywhere() == {"public": 0, "acme": 0, "globex": 0}


def test_a_public_schema_cannot_be_named_as_a_tenant() -> None:
    public = Tenant.objects.get(schema_name="public")
    result = record_schema.apply_async((8,), tenant=public)
    with pytest.raises(Exception, match=r"is schema 'public'"):
        result.get(timeout=WAIT)
    assert markers_everywhere()["public"] == 0


@pytest.mark.parametrize("status", ["suspended", "archived"])
def test_a_suspended_or_archived_tenants_task_is_skipped(status: str) -> None:
    acme = Tenant.objects.get(slug="acme")
    Tenant.objects.filter(pk=acme.pk).update(status=status)
    tenant_cache_clear()
    result = record_schema.apply_async((9,), tenant=acme)
    run = wait_for_state(result.id, "skipped")
    assert f"is {status}" in run.error_message
    assert markers_everywhere()["acme"] == 0


def test_a_status_change_reaches_the_worker_within_the_cache_lifetime() -> None:
    from django.conf import settings

    acme = Tenant.objects.get(slug="acme")
    record_schema.apply_async((0,), tenant=acme).get(timeout=WAIT)  # cache warm: active
    Tenant.objects.filter(pk=acme.pk).update(status="suspended")  # another process's change
    time.sleep(settings.TENANT_CACHE_TTL_S + 0.1)
    result = record_schema.apply_async((10,), tenant=acme)
    wait_for_state(result.id, "skipped")
    assert markers_everywhere()["acme"] == 0


def test_a_provisioning_tenants_task_waits_until_it_is_active() -> None:
    acme = Tenant.objects.get(slug="acme")
    Tenant.objects.filter(pk=acme.pk).update(status="provisioning")
    tenant_cache_clear()
    result = record_schema.apply_async((12,), tenant=acme)
    wait_for_state(result.id, "retrying")
    assert markers_everywhere()["acme"] == 0
    Tenant.objects.filter(pk=acme.pk).update(status="active")
    tenant_cache_clear()
    assert result.get(timeout=WAIT) == {"schema": "acme", "markers": [12]}
    run = wait_for_state(result.id, "succeeded")
    assert run.attempts[0]["state"] == "retrying"


def test_a_revoked_queued_job_never_runs() -> None:
    acme = Tenant.objects.get(slug="acme")
    result = record_schema.apply_async((13,), tenant=acme, countdown=2)
    result.revoke()
    wait_for_state(result.id, "revoked")
    time.sleep(2.5)
    assert markers_everywhere()["acme"] == 0
    state: str = AsyncResult(result.id).state  # celery-types' Literal of states omits REVOKED
    assert state == "REVOKED"
