from django.apps import AppConfig

from schedules.defaults import DefaultSchedule


class ReportsConfig(AppConfig):
    """Per-tenant app (TENANT_APPS): report selectors, PDF rendering and report jobs. Its one
    table is the tenant's report recipients; the reports it makes are artifacts (public)."""

    name = "reports"
    default_schedules = [
        DefaultSchedule(
            name="reports-activity-weekly",
            task="reports.tasks.report_generate_task",
            cron="0 6 * * 1",
            description="Last week's activity report (Monday to Sunday), every Monday at 06:00.",
            kwargs={"kind": "activity"},
        ),
    ]
