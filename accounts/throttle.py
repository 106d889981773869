"""Sign-in throttling, the same for the staff admin and every tenant's portal (Redis, through
the shared cache).

Only failures count. Each attempt reserves one failure on each of its counters *before* the
password is checked (an atomic INCR, so parallel attempts cannot slip past a limit), and a
successful sign-in gives them back: a NAT full of people who type their password right never
adds up to anything. The counters, each over LOGIN_FAILURE_WINDOW_S:
- per person and domain ("scope": a tenant's schema, or public for the staff admin):
  LOGIN_FAILURE_LIMIT. Failures on one tenant's domain never lock the person out of another,
  nor out of the staff admin;
- per person across tenant domains: LOGIN_FAILURE_LIMIT * SPREAD_FACTOR, against guessing one
  person's password on many domains (one domain alone stops at its own limit first);
- per client address: LOGIN_FAILURE_LIMIT * ADDRESS_FACTOR, against one address trying many
  people.
The person is their username as Django's sign-in form reads it (NFKC, case folded), so
look-alike spellings share one budget; unknown usernames count like known ones, so the throttle
tells nothing about which accounts exist. A counter that reaches its limit sends
`signin_locked` (the staff audit log records it).
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from accounts.signals import signin_locked

SPREAD_FACTOR = 4
ADDRESS_FACTOR = 10
STAFF_SCOPE = "public"


def _person(username: str) -> str:
    canonical = unicodedata.normalize("NFKC", username).casefold().strip()
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Counter:
    key: str
    limit: int
    reason: str  # what a lockout on it means, for the audit log


def _counters(*, scope: str, username: str, ip: str) -> list[Counter]:
    limit = settings.LOGIN_FAILURE_LIMIT
    person = _person(username)
    counters = [Counter(f"signin-fail:{scope}:{person}", limit, "person on this domain")]
    if scope != STAFF_SCOPE:
        counters.append(
            Counter(
                f"signin-fail:tenants:{person}", limit * SPREAD_FACTOR, "person on every domain"
            )
        )
    if ip:
        counters.append(Counter(f"signin-fail:ip:{ip}", limit * ADDRESS_FACTOR, "address"))
    return counters


def _bump(key: str, by: int = 1) -> int:
    # add() starts the window with the first failure; incr() never extends it.
    if by > 0 and cache.add(key, by, timeout=settings.LOGIN_FAILURE_WINDOW_S):
        return by
    try:
        return int(cache.incr(key, by))
    except ValueError:  # expired meanwhile
        if by > 0:
            cache.add(key, by, timeout=settings.LOGIN_FAILURE_WINDOW_S)
        return max(by, 0)


@dataclass
class SigninAttempt:
    """One sign-in attempt holding a reserved failure on each counter until it is settled."""

    scope: str
    username: str
    ip: str
    counters: list[Counter]
    allowed: bool

    def succeeded(self) -> None:
        """Right password: the reserved failures are given back, the person's count on this
        domain starts again."""
        for counter in self.counters:
            _bump(counter.key, -1)
        cache.delete(self.counters[0].key)

    def failed(self) -> None:
        """Wrong password (or not a member): the reserved failures stay."""


def signin_attempt(*, scope: str, username: str, ip: str) -> SigninAttempt:
    """Reserve one failure on each counter; `allowed` is False when one is over its limit (the
    attempt is then not counted at all: refused attempts do not prolong a lockout)."""
    counters = _counters(scope=scope, username=username, ip=ip)
    counts = [_bump(counter.key) for counter in counters]
    over = [c for c, n in zip(counters, counts, strict=True) if n > c.limit]
    if over:
        for counter in counters:
            _bump(counter.key, -1)
        for counter in over:
            # Once per lockout: the marker lives as long as the counter's window.
            if cache.add(f"{counter.key}:locked", 1, timeout=settings.LOGIN_FAILURE_WINDOW_S):
                signin_locked.send(sender=SigninAttempt, scope=scope, username=username,
                                   ip=ip, reason=counter.reason)  # fmt: skip
        return SigninAttempt(scope, username, ip, counters, allowed=False)
    return SigninAttempt(scope, username, ip, counters, allowed=True)
