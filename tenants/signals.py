"""Signals other apps hook into instead of being called from tenants/ (tenants knows no one)."""

from django.dispatch import Signal

# Sent after a tenant's status changed and was committed. kwargs: tenant, old_status, new_status.
# Receivers end sessions, drop beat entries, invalidate task-side caches.
tenant_status_changed = Signal()

# Sent inside a tenant task, after the connection switched to the tenant and before the task
# body runs. kwargs: task, tenant. For integrations: error-reporting tags, metrics. Unlike
# Celery's signals, an exception in a receiver is not swallowed: the task fails.
tenant_task_started = Signal()
