"""/healthz on every domain: is PostgreSQL up, is Redis up, when did beat last beat."""

from __future__ import annotations

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


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    pg_ok, pg_detail = _postgres_ok()
    redis_ok, redis_detail, heartbeat = _redis_check()
    body = {
        "status": "ok" if pg_ok and redis_ok else "fail",
        "postgres": pg_detail,
        "redis": redis_detail,
        # Reported, not a reason for 503: web keeps serving while beat restarts.
        "beat": {"last_heartbeat": heartbeat},
    }
    return JsonResponse(body, status=200 if pg_ok and redis_ok else 503)
