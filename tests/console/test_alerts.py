"""Alerts: a rule per signal, one message when an incident opens and one when it is resolved,
by email and webhook, never one per failure, not again while it flaps."""

from __future__ import annotations

import datetime
import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core import mail
from django.utils import timezone

from artifacts.models import Artifact
from backoffice.models import AuditEntry
from backups.models import Backup
from console.alerts import OPEN_KEY, SENT_KEY, alerts_check
from jobs.models import JobRun
from saas.health import BEAT_HEARTBEAT_KEY
from tenants.models import Tenant
from tests.helpers import artifact_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerting(settings: Any) -> Iterator[redis.Redis]:
    settings.ALERT_EMAILS = ["ops@example.com"]
    settings.ALERT_FAILURES_THRESHOLD = 3
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(OPEN_KEY, SENT_KEY)
    client.set(BEAT_HEARTBEAT_KEY, timezone.now().isoformat())  # beat is fine here
    yield client
    client.delete(OPEN_KEY, SENT_KEY, BEAT_HEARTBEAT_KEY)


def _fail(slug: str, count: int) -> None:
    for _ in range(count):
        JobRun.objects.create(
            task_id=uuid.uuid4().hex, task_name="x", tenant_slug=slug, state="failed",
            queued_at=timezone.now(), finished_at=timezone.now(), error_type="ValueError",
        )  # fmt: skip


def _subjects() -> list[str]:
    return [str(message.subject) for message in mail.outbox]


def test_a_tenant_failing_is_one_message_when_it_starts_and_one_when_it_ends(
    alerting: redis.Redis,
) -> None:
    _fail("acme", 3)
    alerts_check(client=alerting)
    _fail("acme", 5)  # more failures, same incident
    alerts_check(client=alerting)
    assert _subjects() == ["[alert] 3 jobs of acme failed in the last 15 minutes."]
    JobRun.objects.all().delete()
    alerts_check(client=alerting)
    assert _subjects()[1] == "[resolved] 3 jobs of acme failed in the last 15 minutes."
    assert list(AuditEntry.objects.values_list("action", flat=True).order_by("id")) == [
        "alert.open", "alert.resolved",
    ]  # fmt: skip


def test_each_tenant_is_its_own_incident_and_a_flapping_one_is_not_announced_again(
    alerting: redis.Redis,
) -> None:
    _fail("acme", 3)
    _fail("globex", 3)
    alerts_check(client=alerting)
    assert len(mail.outbox) == 2
    JobRun.objects.filter(tenant_slug="globex").delete()
    alerts_check(client=alerting)  # globex resolved
    _fail("globex", 3)
    alerts_check(client=alerting)  # globex again, minutes later: not announced again
    assert [s.split("]")[0] for s in _subjects()] == ["[alert", "[alert", "[resolved"]


def test_beat_gone_quiet_is_an_alert(alerting: redis.Redis) -> None:
    alerting.delete(BEAT_HEARTBEAT_KEY)
    alerts_check(client=alerting)
    assert _subjects() == [
        "[alert] Beat is not running (no heartbeat at all): no schedule is sent."
    ]


def test_a_job_waiting_too_long_and_refused_messages_are_alerts(
    alerting: redis.Redis, settings: Any
) -> None:
    old = timezone.now() - datetime.timedelta(seconds=settings.ALERT_QUEUE_AGE_S + 60)
    JobRun.objects.create(task_id="stuck", task_name="x", queued_at=old)
    JobRun.objects.create(task_id="forged", task_name="x", state="failed", queued_at=old,
                          finished_at=timezone.now(), error_type="TenantMissing")  # fmt: skip
    alerts_check(client=alerting)
    assert len(_subjects()) == 2
    assert any("waited 11 minutes in its queue" in s for s in _subjects())
    assert any("refused 1 message(s)" in s for s in _subjects())


def test_the_webhook_gets_the_incident_as_json(alerting: redis.Redis, settings: Any) -> None:
    received: list[dict[str, Any]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    try:
        _fail("acme", 3)
        alerts_check(client=alerting)
    finally:
        server.shutdown()
    assert received == [{"state": "open", "rule": "failing", "key": "failing:acme",
                         "summary": "3 jobs of acme failed in the last 15 minutes."}]  # fmt: skip


def _backup(tenant: Any, size: int, *, hours_ago: float, verified: bool = False) -> Backup:
    return Backup.objects.create(
        tenant=tenant, kind="scheduled", state="succeeded", schema_name=tenant.schema_name,
        size=size, started_at=timezone.now() - datetime.timedelta(hours=hours_ago),
        verification="passed" if verified else "unverified",
    )  # fmt: skip


def test_a_tenant_without_a_verified_backup_in_48_hours_is_an_alert_until_it_has_one(
    alerting: redis.Redis, acme: Any, globex: Any
) -> None:
    Tenant.objects.filter(pk__in=[acme.pk, globex.pk]).update(
        created_at=timezone.now() - datetime.timedelta(days=5)
    )
    _backup(acme, 1000, hours_ago=50, verified=True)  # verified, but too old
    _backup(acme, 1000, hours_ago=2)  # recent, not verified yet
    _backup(globex, 1000, hours_ago=20, verified=True)
    alerts_check(client=alerting)
    assert _subjects() == [
        "[alert] acme has no verified backup taken in the last 48 hours (newest verified: "
        f"{(timezone.now() - datetime.timedelta(hours=50)).isoformat(timespec='minutes')})."
    ]
    Backup.objects.filter(tenant=acme, verification="unverified").update(verification="passed")
    alerts_check(client=alerting)
    assert _subjects()[1].startswith("[resolved] acme has no verified backup")


def test_a_backup_less_than_half_the_one_before_is_an_alert(
    alerting: redis.Redis, acme: Any, globex: Any
) -> None:
    _backup(acme, 10_000, hours_ago=30)
    _backup(acme, 4_000, hours_ago=5)  # the newest: less than half
    _backup(globex, 10_000, hours_ago=30)
    _backup(globex, 6_000, hours_ago=5)  # smaller, not by half
    alerts_check(client=alerting)
    assert _subjects() == [
        "[alert] acme's newest backup is 4000 bytes, less than half the one before (10000 "
        "bytes): is the tenant's data gone?"
    ]


def test_damaged_files_and_a_tenant_near_its_quota_are_alerts(
    alerting: redis.Redis, acme: Any, globex: Any, artifacts_root: Any, settings: Any
) -> None:
    settings.ALERT_STORAGE_PERCENT = 50
    Tenant.objects.filter(pk=acme.pk).update(storage_quota_mb=1)
    artifact_make(acme, b"x" * 600_000)  # 57% of 1 MB
    artifact_make(globex, b"x" * 600_000)  # of the 5 GB default: fine
    damaged = artifact_make(globex, b"short")
    Artifact.objects.filter(pk=damaged.pk).update(problem="file is shorter than recorded")
    alerts_check(client=alerting)
    assert sorted(_subjects()) == [
        "[alert] 1 stored file(s) are missing or damaged (flagged by a download or the scrub).",
        "[alert] acme uses 57% of its storage quota: its next backup, report or export may fail.",
    ]
