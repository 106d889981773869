"""Tenant tasks on a real worker (Redis broker, PostgreSQL): each runs in its sender's schema,
whatever the send path, and never in another tenant's or in public."""

from __future__ import annotations

from typing import Any, TypeVar

import pytest
from celery import Signature, chain, chord, group
from celery.result import AsyncResult
from django_tenants.utils import schema_context

from jobs.api import tenant_fanout
from jobs.errors import TenantMissing
from jobs.headers import tenant_ref
from tenants.models import Tenant
from tests.worker_tasks import collect, platform_schema, record_schema

pytestmark = pytest.mark.usefixtures("live_db", "celery_worker")
WAIT = 20
R = TypeVar("R")


def acme() -> Tenant:
    return Tenant.objects.get(slug="acme")


def globex() -> Tenant:
    return Tenant.objects.get(slug="globex")


def for_tenant(sig: Signature[R], tenant: Tenant) -> Signature[R]:
    """`sig.set(tenant=tenant_ref(tenant))`: our send option (celery-types' Signature.set lists
    only Celery's own options)."""
    return sig.set(tenant=tenant_ref(tenant))  # type: ignore[call-arg]


def test_delay_from_a_tenant_context_runs_in_that_schema() -> None:
    with schema_context("acme"):
        result = record_schema.delay(11)
    assert result.get(timeout=WAIT) == {"schema": "acme", "markers": [11]}
    with schema_context("globex"):
        assert record_schema.delay(0).get(timeout=WAIT) == {"schema": "globex", "markers": []}


def test_explicit_tenant_from_the_public_schema() -> None:
    assert record_schema.delay_for(globex(), 21).get(timeout=WAIT)["schema"] == "globex"
    result = record_schema.apply_async((22,), tenant=acme(), countdown=0.5)
    assert result.get(timeout=WAIT) == {"schema": "acme", "markers": [22]}


def test_eta_task_runs_in_the_senders_schema() -> None:
    from datetime import timedelta

    from django.utils import timezone

    with schema_context("globex"):
        result = record_schema.apply_async((31,), eta=timezone.now() + timedelta(seconds=1))
    assert result.get(timeout=WAIT) == {"schema": "globex", "markers": [31]}


def test_signature_chain_group_and_chord_keep_the_tenant() -> None:
    sig = record_schema.s(41)
    with schema_context("acme"):
        from_sig = sig.apply_async()
        chained = chain(record_schema.s(42), record_schema.si(0)).apply_async()
        grouped = group(record_schema.s(43), record_schema.s(44)).apply_async()
        chorded = chord([record_schema.s(45), record_schema.s(46)])(collect.s())
    assert from_sig.get(timeout=WAIT)["schema"] == "acme"
    # A tenant task sent from public with no tenant is refused at once, never sent.
    with pytest.raises(TenantMissing):
        sig.apply_async()
    assert chained.get(timeout=WAIT)["schema"] == "acme"
    assert isinstance(chained.parent, AsyncResult)
    assert chained.parent.get(timeout=WAIT)["schema"] == "acme"
    assert [r["schema"] for r in grouped.get(timeout=WAIT)] == ["acme", "acme"]
    assert chorded.get(timeout=WAIT) == {"schema": "acme", "header_schemas": ["acme", "acme"]}
    with schema_context("globex"):
        assert record_schema.s(0).delay().get(timeout=WAIT)["markers"] == []


def test_headers_are_not_shared_between_sends() -> None:
    shared_headers: dict[str, Any] = {"x-trace": "1"}
    a = record_schema.apply_async((51,), tenant=acme(), headers=shared_headers)
    b = record_schema.apply_async((52,), tenant=globex(), headers=shared_headers)
    assert shared_headers == {"x-trace": "1"}
    assert (a.get(timeout=WAIT)["schema"], b.get(timeout=WAIT)["schema"]) == ("acme", "globex")


def test_fanout_reaches_every_active_tenant_once_and_skips_the_others() -> None:
    Tenant.objects.filter(slug="globex").update(status=Tenant.Status.SUSPENDED)
    ids = tenant_fanout(record_schema, args=(61,), window_s=1)
    assert len(ids) == Tenant.objects.filter(status="active").exclude(schema_name="public").count()
    schemas: list[str] = sorted(AsyncResult(i).get(timeout=WAIT)["schema"] for i in ids)
    assert "acme" in schemas and "globex" not in schemas


def test_interleaved_tenant_and_public_tasks_never_leak(django_db_blocker: Any) -> None:
    with schema_context("acme"):
        record_schema.delay(71).get(timeout=WAIT)
    with schema_context("globex"):
        record_schema.delay(72).get(timeout=WAIT)
    acme_ref, globex_ref = tenant_ref(acme()), tenant_ref(globex())
    for _ in range(500):
        a = record_schema.apply_async(tenant=acme_ref)
        p = platform_schema.delay()
        b = record_schema.apply_async(tenant=globex_ref)
        assert a.get(timeout=WAIT) == {"schema": "acme", "markers": [71]}
        assert p.get(timeout=WAIT) == {"schema": "public", "markers": []}
        assert b.get(timeout=WAIT) == {"schema": "globex", "markers": [72]}


def test_headers_cannot_point_a_task_at_another_tenant() -> None:
    from jobs.errors import TenantMismatch

    with schema_context("acme"), pytest.raises(TenantMismatch):
        record_schema.apply_async((81,), headers=tenant_ref(globex()))
    with schema_context("acme"):  # the same headers with an explicit tenant= are a decision
        assert (
            record_schema.apply_async((0,), tenant=globex()).get(timeout=WAIT)["schema"] == "globex"
        )


def test_a_chord_over_several_tenants_needs_an_explicit_body_tenant() -> None:
    from jobs.models import JobRun
    from tests.helpers import markers_everywhere

    header = [for_tenant(record_schema.s(91), acme()),
              for_tenant(record_schema.s(92), globex())]  # fmt: skip
    orphan = chord(header)(collect.s())
    with pytest.raises(Exception, match="chord's body has no tenant"):
        orphan.get(timeout=WAIT)
    assert markers_everywhere() == {"public": 0, "acme": 1, "globex": 1}
    chosen = chord([for_tenant(record_schema.s(93), acme()),
                    for_tenant(record_schema.s(94), globex())])(for_tenant(collect.s(), globex()))  # fmt: skip
    assert chosen.get(timeout=WAIT) == {"schema": "globex", "header_schemas": ["acme", "globex"]}
    assert JobRun.objects.filter(
        task_name="tests.worker_tasks.collect", tenant_slug="globex"
    ).exists()
