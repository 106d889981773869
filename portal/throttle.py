"""Sign-in throttling in the shared cache (Redis).

Failures are counted per person (their username as Django's sign-in form sees it: NFKC and case
folded, so look-alike spellings share one budget; across tenants, since the password is one) and
per client IP within a tenant. The count goes up *before* the password is checked, with Redis's
atomic INCR, so parallel attempts cannot slip past the limit; a successful sign-in clears the
person's count. Unknown usernames count the same as known ones: the throttle reveals nothing
about which accounts exist.
"""

from __future__ import annotations

import hashlib
import unicodedata

from django.conf import settings
from django.core.cache import cache


def _person_key(username: str) -> str:
    canonical = unicodedata.normalize("NFKC", username).casefold().strip()
    return "login-fail:user:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _ip_key(schema: str, ip: str) -> str:
    return f"login-fail:ip:{schema}:{ip}"


def _bump(key: str) -> int:
    # add() starts the window with the first attempt; incr() never extends it.
    if cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S)
        return 1


def login_attempt_allowed(*, schema: str, username: str, ip: str) -> bool:
    """Count this attempt; False when the person or the address is over the limit."""
    person = _bump(_person_key(username))
    # The per-IP limit is wider: several people may share one office address.
    address = _bump(_ip_key(schema, ip)) if ip else 0
    limit = settings.LOGIN_FAILURE_LIMIT
    return person <= limit and address <= limit * 5


def login_succeeded(*, username: str) -> None:
    cache.delete(_person_key(username))
