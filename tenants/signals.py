"""Signals of tenancy. Apps above tenants (jobs, beat, usersessions) hook into them instead of
being called from here: tenants imports none of them."""

from django.dispatch import Signal

# Sent after a tenant's status changed and was committed. kwargs: tenant, old_status, new_status.
# Receivers end sessions, drop beat entries, invalidate task-side caches.
tenant_status_changed = Signal()
