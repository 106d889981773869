"""Signals of the task framework."""

from django.dispatch import Signal

# Sent inside a tenant task, after the connection switched to the tenant and before the task
# body runs. kwargs: task, tenant. For integrations: error-reporting tags, metrics. Unlike
# Celery's signals, an exception in a receiver is not swallowed: the task fails.
tenant_task_started = Signal()
