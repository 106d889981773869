"""Tenant lookup for the worker, cached per process.

All tenants are loaded in one query and kept TENANT_CACHE_TTL_S seconds: one query per process
per interval whatever the number of tenants, instead of one per task. A status change reaches
every worker within that time, and at once in the process that made it (`tenant_cache_clear`
is connected to `tenant_status_changed` in JobsConfig.ready).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from tenants.models import Tenant

_tenant_cache: dict[int, Tenant] = {}
_tenant_cache_expires = 0.0


def tenant_lookup(tenant_id: int) -> Tenant | None:
    """The tenant by id, from the per-process cache. An id the cache does not know is looked
    up on its own (a tenant made a moment ago)."""
    global _tenant_cache, _tenant_cache_expires
    now = time.monotonic()
    if now >= _tenant_cache_expires:
        _tenant_cache = {t.pk: t for t in Tenant.objects.all()}
        _tenant_cache_expires = now + settings.TENANT_CACHE_TTL_S
    tenant = _tenant_cache.get(tenant_id)
    if tenant is None:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is not None:
            _tenant_cache[tenant_id] = tenant
    return tenant


def tenant_cache_clear(**kwargs: Any) -> None:
    global _tenant_cache_expires
    _tenant_cache.clear()
    _tenant_cache_expires = 0.0
