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

from backoffice.models import AuditEntry
from console.alerts import OPEN_KEY, SENT_KEY, alerts_check
from jobs.models import JobRun
from saas.health import BEAT_HEARTBEAT_KEY

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
