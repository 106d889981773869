"""A fixed-window budget in the shared cache (Redis): "at most N of these per window". One home
for the portal's "ask now" limits (reports, backups, exports). The window starts with the first
use and is never extended; an atomic INCR, so parallel requests cannot slip past the limit."""

from __future__ import annotations

from django.core.cache import cache


def budget_admit(key: str, *, limit: int, window_s: int) -> bool:
    """Count one use against `key`'s budget; False once `limit` uses were admitted within the
    window."""
    key = f"budget:{key}"
    if cache.add(key, 1, timeout=window_s):
        return True
    try:
        count = int(cache.incr(key))
    except ValueError:  # expired meanwhile
        cache.add(key, 1, timeout=window_s)
        return True
    return count <= limit
