"""Sign-in throttling in the shared cache (Redis): failures counted per (tenant, username) and per
client IP within a window. Unknown usernames count the same as known ones, so the throttle
reveals nothing about which accounts exist."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _keys(schema: str, username: str, ip: str | None) -> list[str]:
    who = hashlib.sha256(f"{schema}:{username.strip().lower()}".encode()).hexdigest()[:32]
    keys = [f"login-fail:user:{who}"]
    if ip:
        keys.append(f"login-fail:ip:{ip}")
    return keys


def login_throttled(*, schema: str, username: str, ip: str | None) -> bool:
    counts = cache.get_many(_keys(schema, username, ip))
    # The per-IP limit is wider: several people may share one office address.
    return any(
        count >= settings.LOGIN_FAILURE_LIMIT * (5 if ":ip:" in key else 1)
        for key, count in counts.items()
    )


def login_failure_record(*, schema: str, username: str, ip: str | None) -> None:
    for key in _keys(schema, username, ip):
        # add() starts the window on the first failure; incr() never extends it.
        if not cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S):
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S)


def login_failures_clear(*, schema: str, username: str) -> None:
    cache.delete(_keys(schema, username, None)[0])
