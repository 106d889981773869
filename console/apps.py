from django.apps import AppConfig

from schedules.defaults import DefaultSchedule


class ConsoleConfig(AppConfig):
    """The top of the staff admin: the dashboard, Operations, the tenant-scoped admin's entry
    (middleware), and the pages that act across apps (tenants with their jobs, people with
    their memberships). Nothing imports it; it imports what it shows."""

    name = "console"
    verbose_name = "Console"
    default_schedules = [
        DefaultSchedule(
            name="tenant-usage-nightly",
            task="tenants.tasks.tenant_tables_count_task",
            cron="45 3 * * *",
            description="Row counts of every table (usage figures).",
        ),
    ]

    def ready(self) -> None:
        from django.conf import settings

        from backoffice.sites import staff_site, tenant_site
        from console import admin_users  # noqa: F401  (registers the people admin)
        from console.alerts import alerts_maybe_check
        from console.dashboard import dashboard_context, operations_view, tenant_dashboard_context
        from console.queue_history import SAMPLE_EVERY_S, queue_depths_sample
        from saas.periodic import periodic_hook_register

        staff_site.dashboard_set(dashboard_context, "admin/console_index.html")
        tenant_site.dashboard_set(tenant_dashboard_context, "admin/tenant_index.html")
        staff_site.view_add("operations/", operations_view, "operations")
        periodic_hook_register(alerts_maybe_check, lambda: settings.ALERTS_INTERVAL_S)
        # The dashboard's queue chart: one sample a minute, whichever process takes it.
        periodic_hook_register(queue_depths_sample, lambda: SAMPLE_EVERY_S / 2)
