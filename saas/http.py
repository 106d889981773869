"""Facts about an HTTP request that several apps need, read in one place."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address
    the outermost trusted proxy saw (X-Forwarded-For is only trusted that far). Sessions,
    sign-in throttling and the staff audit log all read it here, so they agree behind a proxy."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [
            p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return str(request.META.get("REMOTE_ADDR", ""))
