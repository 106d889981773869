"""/healthz on every domain: is PostgreSQL up, is Redis up, when did beat last beat (and is
that too long ago)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

BEAT_HEARTBEAT_KEY = "saas:beat:heartbeat"  # written by the beat leader (tenant-aware scheduler)


def _postgres_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # any failure means "down" for a health probe
        return False, type(exc).__name__


def _redis_check() -> tuple[bool, str, str | None]:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
        client.ping()
        heartbeat = client.get(BEAT_HEARTBEAT_KEY)
        return True, "ok", heartbeat.decode() if isinstance(heartbeat, bytes) else heartbeat
    except redis.RedisError as exc:
        return False, type(exc).__name__, None


def beat_report(heartbeat: str | None, now: dt.datetime | None = None) -> dict[str, Any]:
    """The heartbeat as written, its age in whole seconds, and whether it is stale (older than
    HEALTH_BEAT_STALE_S, or none at all)."""
    try:
        at = dt.datetime.fromisoformat(heartbeat) if heartbeat else None
    except ValueError:
        at = None
    if at is None:
        return {"last_heartbeat": heartbeat, "age_s": None, "stale": True}
    now = now or dt.datetime.now(dt.UTC)
    age = max(0, int((now - at).total_seconds()))
    return {"last_heartbeat": heartbeat, "age_s": age, "stale": age > settings.HEALTH_BEAT_STALE_S}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    pg_ok, pg_detail = _postgres_ok()
    redis_ok, redis_detail, heartbeat = _redis_check()
    body = {
        "status": "ok" if pg_ok and redis_ok else "fail",
        "postgres": pg_detail,
        "redis": redis_detail,
        # Reported, not a reason for 503: web keeps serving while beat restarts.
        "beat": beat_report(heartbeat),
    }
    return JsonResponse(body, status=200 if pg_ok and redis_ok else 503)
