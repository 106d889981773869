"""The platform dashboard: its figures link to the lists behind them, its query count does not
grow with the number of tenants, and the queue-depth history is sampled once a minute."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backups.models import Backup
from beat.models import ScheduleSummary
from console.dashboard import jobs_by_hour_chart
from console.queue_history import HISTORY_KEY, queue_depths_history, queue_depths_sample
from jobs.models import JobRun
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def tenants_add(count: int) -> None:
    """Tenant rows with their jobs and schedules (no schemas: the dashboard reads public)."""
    start = Tenant.objects.count()
    now = timezone.now()
    tenants = Tenant.objects.bulk_create(
        Tenant(name=f"T{i}", slug=f"t-{i}", schema_name=f"t_{i}", status="active")
        for i in range(start, start + count)
    )
    JobRun.objects.bulk_create(
        JobRun(task_id=f"dash-{t.pk}-{n}", task_name="x.y", tenant=t, tenant_slug=t.slug,
               schema_name=t.schema_name, state=state, queued_at=now - timedelta(hours=n),
               finished_at=now - timedelta(hours=n))
        for t in tenants for n, state in ((1, "succeeded"), (2, "failed"), (30, "lost"))
    )  # fmt: skip
    ScheduleSummary.objects.bulk_create(
        ScheduleSummary(tenant=t, schema_name=t.schema_name, name="nightly", task="x.y",
                        schedule="0 3 * * *", enabled=True, refreshed_at=now,
                        next_run_at=now + timedelta(hours=1))
        for t in tenants
    )  # fmt: skip


def dashboard_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/")
    assert response.status_code == 200
    return len(queries)


def test_the_dashboard_makes_as_many_queries_at_1000_tenants_as_at_10(
    operator_client: Client,
) -> None:
    tenants_add(10)
    dashboard_queries(operator_client)  # first request: per-process caches fill
    at_10 = dashboard_queries(operator_client)
    tenants_add(990)
    at_1000 = dashboard_queries(operator_client)
    assert at_10 == at_1000, f"{at_10} queries at 10 tenants, {at_1000} at 1,000"


def test_every_figure_links_to_the_list_behind_it(operator_client: Client) -> None:
    tenants_add(3)
    response = operator_client.get("/admin/")
    html = response.content.decode()
    assert "/admin/tenants/tenant/?status__exact=active" in html
    assert "/admin/jobs/jobrun/?state__exact=failed&amp;queued_at__gte=" in html
    # the links answer: the lists accept the filters the dashboard writes
    assert operator_client.get("/admin/tenants/tenant/?status__exact=active").status_code == 200
    since = (timezone.now() - timedelta(hours=24)).isoformat(timespec="seconds")
    listed = operator_client.get("/admin/jobs/jobrun/", {"state__exact": "failed",
                                                         "queued_at__gte": since})  # fmt: skip
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 3  # one failed job per new tenant in 24 h
    assert operator_client.get("/admin/jobs/jobrun/?state__in=failed,lost").status_code == 200


def test_the_jobs_chart_counts_each_hour_by_outcome() -> None:
    tenants_add(2)
    chart = json.loads(jobs_by_hour_chart(timezone.now()))
    by_label = {d["label"]: sum(d["data"]) for d in chart["datasets"]}
    assert by_label == {"Succeeded": 2, "Failed or lost": 4, "Other": 0}
    assert len(chart["labels"]) == 7 * 24 + 1


def test_queue_depth_is_sampled_once_a_minute_whoever_offers() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(HISTORY_KEY)
    now = 1_800_000_000.0
    assert queue_depths_sample(now, client) is True
    assert queue_depths_sample(now + 20, client) is False  # same minute: another process took it
    assert queue_depths_sample(now + 60, client) is True
    samples = queue_depths_history(client)
    assert [s.at for s in samples] == [now // 60 * 60, now // 60 * 60 + 60]
    assert set(samples[0].depths) == {"short", "long"}


def tenant_dashboard_queries(client: Client, tenant: Tenant) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/admin/t/{tenant.slug}/")
    assert response.status_code == 200
    return len(queries)


def test_a_tenant_dashboard_makes_as_many_queries_at_1000_tenants_as_at_10(
    operator_client: Client, acme: Tenant
) -> None:
    tenants_add(10)
    tenant_dashboard_queries(operator_client, acme)  # first request: per-process caches fill
    at_10 = tenant_dashboard_queries(operator_client, acme)
    tenants_add(990)
    at_1000 = tenant_dashboard_queries(operator_client, acme)
    assert at_10 == at_1000, f"{at_10} queries at 10 tenants, {at_1000} at 1,000"


def test_the_beat_card_says_stale_by_the_same_rule_as_healthz(operator_client: Client) -> None:
    from saas.health import BEAT_HEARTBEAT_KEY

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.set(BEAT_HEARTBEAT_KEY, timezone.now().isoformat())
        assert ">ALIVE<" in operator_client.get("/admin/").content.decode()
        old = timezone.now() - timedelta(seconds=settings.HEALTH_BEAT_STALE_S + 5)
        client.set(BEAT_HEARTBEAT_KEY, old.isoformat())
        html = operator_client.get("/admin/").content.decode()
        assert ">STALE<" in html and f"heartbeat {settings.HEALTH_BEAT_STALE_S + 5} s ago" in html
    finally:
        client.delete(BEAT_HEARTBEAT_KEY)


def test_the_backups_card_flags_tenants_without_a_verified_backup_and_links_to_them(
    operator_client: Client,
) -> None:
    tenants_add(3)  # t-3, t-4 and t-5 (after public, acme and globex)
    old = timezone.now() - timedelta(days=3)
    Tenant.objects.filter(slug__in=["t-3", "t-4", "t-5"]).update(created_at=old)
    verified = Tenant.objects.get(slug="t-3")
    Backup.objects.create(tenant=verified, kind="scheduled", state="succeeded",
                          schema_name=verified.schema_name, verification="passed", size=10,
                          started_at=timezone.now() - timedelta(hours=3))  # fmt: skip
    Backup.objects.create(tenant=verified, kind="manual", state="failed",
                          schema_name=verified.schema_name)  # fmt: skip
    html = operator_client.get("/admin/").content.decode()
    assert "2 active tenants without a verified backup in 48 hours" in html
    assert "1 failed in the last 24 hours" in html
    overview = operator_client.get("/admin/backups/backupoverview/", {"verified": "stale"})
    assert overview.status_code == 200
    assert {t.slug for t in overview.context["cl"].result_list} == {"t-4", "t-5"}
    failed = operator_client.get("/admin/backups/backup/", {"state__exact": "failed"})
    assert [b.tenant.slug for b in failed.context["cl"].result_list] == ["t-3"]
