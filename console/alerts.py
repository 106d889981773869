"""Staff hear about trouble without watching the admin: a rule per signal, evaluated every
ALERTS_INTERVAL_S, one message when an incident opens and one when it is resolved (never one
per failure), by email to ALERT_EMAILS and, if set, as JSON to ALERT_WEBHOOK_URL.

Rules (each incident has a key, so "acme is failing" and "globex is failing" are two):
- beat: the beat leader's heartbeat is older than ALERT_BEAT_STALE_S, or absent;
- failing: a tenant (or the platform) had ALERT_FAILURES_THRESHOLD or more failed or lost jobs
  in the last ALERT_WINDOW_S;
- refused: the worker refused messages (no tenant, unknown, mismatched) in that window;
- queue: a tracked job has been queued longer than ALERT_QUEUE_AGE_S;
- backup-stale: an active tenant has no verified backup taken in the last 48 hours;
- backup-shrunk: a tenant's newest backup is less than half the size of the one before (an
  empty or truncated dump is caught the morning after, not at restore time);
- files: stored files flagged by serving or the scrub (missing, short, checksum mismatch);
- storage: a tenant uses ALERT_STORAGE_PERCENT or more of its storage quota.

Who evaluates: beat's leader and every worker's heartbeat thread offer to; a Redis lock lets
one of them do it per interval, so alerts keep coming with beat down (workers check) or with
every worker down (beat checks). Incidents live in Redis: opening one twice sends nothing, and
one that reopens within ALERT_REPEAT_S of its last message is not announced again (flapping).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.request
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import BigIntegerField, Count, F, Min, OuterRef, Subquery, Sum
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from artifacts.models import Artifact
from backoffice.services import audit_record
from backups.models import Backup
from backups.selectors import backup_overview_rows, stale_q
from beat.leadership import beat_heartbeat
from console.operations import REFUSALS
from jobs.models import JobRun
from tenants.models import Tenant

logger = logging.getLogger(__name__)

LOCK_KEY = "saas:alerts:lock"
OPEN_KEY = "saas:alerts:open"  # hash: incident key -> JSON of the incident
SENT_KEY = "saas:alerts:sent"  # hash: incident key -> when its last message went out


@dataclass(frozen=True)
class Incident:
    key: str
    rule: str
    summary: str


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


# --- rules: each returns the incidents open now -------------------------------------------
def beat_rule(now: dt.datetime) -> list[Incident]:
    beat = beat_heartbeat()
    stale = dt.timedelta(seconds=settings.ALERT_BEAT_STALE_S)
    if beat is not None and now - dt.datetime.fromisoformat(beat) <= stale:
        return []
    when = f"last heartbeat {beat}" if beat else "no heartbeat at all"
    return [Incident("beat", "beat", f"Beat is not running ({when}): no schedule is sent.")]


def failing_rule(now: dt.datetime) -> list[Incident]:
    since = now - dt.timedelta(seconds=settings.ALERT_WINDOW_S)
    rows = (
        JobRun.objects.filter(state__in=["failed", "lost"], finished_at__gte=since)
        .exclude(error_type__in=REFUSALS)
        .values("tenant_slug")
        .annotate(n=Count("id"))
        .filter(n__gte=settings.ALERT_FAILURES_THRESHOLD)
    )
    incidents = []
    for row in rows:
        who = row["tenant_slug"] or "platform"
        summary = (
            f"{row['n']} jobs of {row['tenant_slug'] or 'the platform'} failed in the last "
            f"{settings.ALERT_WINDOW_S // 60} minutes."
        )
        incidents.append(Incident(f"failing:{who}", "failing", summary))
    return incidents


def refused_rule(now: dt.datetime) -> list[Incident]:
    since = now - dt.timedelta(seconds=settings.ALERT_WINDOW_S)
    count = JobRun.objects.filter(error_type__in=REFUSALS, finished_at__gte=since).count()
    if not count:
        return []
    return [Incident("refused", "refused", f"The worker refused {count} message(s) recently "
                     "(no tenant, an unknown one, or one that does not match).")]  # fmt: skip


def queue_rule(now: dt.datetime) -> list[Incident]:
    oldest = JobRun.objects.filter(state="queued").aggregate(at=Min("queued_at"))["at"]
    limit = dt.timedelta(seconds=settings.ALERT_QUEUE_AGE_S)
    if oldest is None or now - oldest <= limit:
        return []
    minutes = int((now - oldest).total_seconds() // 60)
    return [Incident("queue", "queue", f"A job has waited {minutes} minutes in its queue: are "
                     "the workers running?")]  # fmt: skip


def backup_stale_rule(now: dt.datetime) -> list[Incident]:
    rows = (
        backup_overview_rows(now=now).filter(stale_q(now)).values_list("slug", "last_verified_at")
    )
    return [
        Incident(f"backup-stale:{slug}", "backup-stale",
                 f"{slug} has no verified backup taken in the last 48 hours (newest verified: "
                 f"{last.isoformat(timespec='minutes') if last else 'none'}).")
        for slug, last in rows
    ]  # fmt: skip


def backup_shrunk_rule(now: dt.datetime) -> list[Incident]:
    done = Backup.objects.filter(state=Backup.State.SUCCEEDED, size__isnull=False)
    newest = (
        done.order_by("tenant_id", "-started_at")
        .distinct("tenant_id")
        .annotate(
            previous_size=Subquery(
                done.filter(tenant_id=OuterRef("tenant_id"), started_at__lt=OuterRef("started_at"))
                .order_by("-started_at")
                .values("size")[:1]
            )
        )
        .values_list("tenant__slug", "size", "previous_size")
    )
    return [
        Incident(f"backup-shrunk:{slug}", "backup-shrunk",
                 f"{slug}'s newest backup is {size} bytes, less than half the one before "
                 f"({previous} bytes): is the tenant's data gone?")
        for slug, size, previous in newest
        if previous and size is not None and size * 2 < previous
    ]  # fmt: skip


def files_rule(now: dt.datetime) -> list[Incident]:
    flagged = Artifact.objects.filter(deleted_at__isnull=True).exclude(problem="").count()
    if not flagged:
        return []
    return [Incident("files", "files", f"{flagged} stored file(s) are missing or damaged "
                     "(flagged by a download or the scrub).")]  # fmt: skip


def storage_rule(now: dt.datetime) -> list[Incident]:
    default_mb = settings.ARTIFACTS_QUOTA_MB
    rows = (
        Tenant.objects.annotate(
            used=Subquery(
                Artifact.objects.filter(tenant=OuterRef("pk"), deleted_at__isnull=True)
                .values("tenant")
                .annotate(n=Sum("size"))
                .values("n")
            ),
            # bigint: megabytes times 2**20 passes int4's range at 2 GB
            quota=Cast(Coalesce("storage_quota_mb", default_mb), BigIntegerField()) * 1024 * 1024,
        )
        .filter(used__gte=F("quota") * settings.ALERT_STORAGE_PERCENT / 100)
        .values_list("slug", "used", "quota")
    )
    return [
        Incident(f"storage:{slug}", "storage",
                 f"{slug} uses {used * 100 // quota}% of its storage quota: its next backup, "
                 "report or export may fail.")
        for slug, used, quota in rows
    ]  # fmt: skip


RULES = (beat_rule, failing_rule, refused_rule, queue_rule, backup_stale_rule,
         backup_shrunk_rule, files_rule, storage_rule)  # fmt: skip


# --- incidents and messages -----------------------------------------------------------------
def alerts_check(*, now: dt.datetime | None = None, client: redis.Redis | None = None) -> list[str]:
    """Evaluate every rule once; announce incidents that opened or resolved. Returns the
    messages sent (their subjects)."""
    now = now or timezone.now()
    client = client or _client()
    current = {incident.key: incident for rule in RULES for incident in rule(now)}
    known = {
        (k.decode() if isinstance(k, bytes) else str(k)): json.loads(v)
        for k, v in client.hgetall(OPEN_KEY).items()
    }
    sent: list[str] = []
    for key, incident in current.items():
        if key in known:
            continue  # already open: one message per incident
        announced = _may_announce(client, key)
        client.hset(OPEN_KEY, key, json.dumps({**incident.__dict__, "announced": announced}))
        if announced:
            sent.append(_announce(f"[alert] {incident.summary}", incident, "open"))
    for key, data in known.items():
        if key not in current:
            client.hdel(OPEN_KEY, key)
            if data.pop("announced", False):  # its opening was told: so is its end
                incident = Incident(**data)
                sent.append(_announce(f"[resolved] {incident.summary}", incident, "resolved"))
    return sent


def alerts_open(client: redis.Redis | None = None) -> list[Incident]:
    """The incidents open now (for the Operations page)."""
    try:
        values = (client or _client()).hgetall(OPEN_KEY).values()
    except redis.RedisError:
        return []
    incidents = []
    for value in values:
        data = json.loads(value)
        data.pop("announced", None)
        incidents.append(Incident(**data))
    return incidents


def _may_announce(client: redis.Redis, key: str) -> bool:
    """An incident that opens again soon after its last announcement (flapping) is not
    announced again; its resolution then is not either."""
    last = client.hget(SENT_KEY, key)
    now = time.time()
    if last is not None and now - float(last) < settings.ALERT_REPEAT_S:
        return False
    client.hset(SENT_KEY, key, now)
    return True


def _announce(subject: str, incident: Incident, state: str) -> str:
    body = (f"{incident.summary}\n\nRule: {incident.rule}. This message is sent once when the "
            "incident opens and once when it is resolved; Operations in the admin shows the "
            "details.")  # fmt: skip
    if settings.ALERT_EMAILS:
        send_mail(subject=subject[:200], message=body, from_email=None,
                  recipient_list=list(settings.ALERT_EMAILS), fail_silently=True)  # fmt: skip
    if settings.ALERT_WEBHOOK_URL:
        _webhook_post({"state": state, "rule": incident.rule, "key": incident.key,
                       "summary": incident.summary})  # fmt: skip
    audit_record(actor=None, action=f"alert.{state}", detail={"key": incident.key,
                 "summary": incident.summary})  # fmt: skip
    logger.warning("%s", subject)
    return subject


def _webhook_post(payload: dict[str, str]) -> None:
    request = urllib.request.Request(
        settings.ALERT_WEBHOOK_URL, data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5):
            pass
    except OSError:
        logger.warning("alert webhook %s did not answer", settings.ALERT_WEBHOOK_URL)


def alerts_maybe_check(client: redis.Redis | None = None) -> bool:
    """Evaluate the rules if nobody did in the last ALERTS_INTERVAL_S (beat's leader and the
    workers' heartbeat threads all call this). True if this call did."""
    if not settings.ALERTS_ENABLED:
        return False
    client = client or _client()
    if not client.set(LOCK_KEY, "1", nx=True, ex=settings.ALERTS_INTERVAL_S):
        return False
    alerts_check(client=client)
    return True
