"""Rows every new tenant starts with: a registry of makers, each written inside the tenant's
schema during provisioning (and again by "apply defaults").

Apps above tenants contribute makers with `tenant_default_register` in their ready(); tenants
reads the registry and knows none of them (the schedules app registers the default schedules
that apps declare). Each maker must be idempotent (create only what is missing), so the same
list re-applies defaults to existing tenants without overwriting a staff edit.
"""

from __future__ import annotations

from collections.abc import Callable

from tenants.models import Tenant

DefaultMaker = Callable[[Tenant], None]

TENANT_DEFAULTS: list[DefaultMaker] = []


def tenant_default_register(maker: DefaultMaker) -> None:
    if maker not in TENANT_DEFAULTS:
        TENANT_DEFAULTS.append(maker)
