from django.apps import AppConfig


class SchedulesConfig(AppConfig):
    """When schedules run (zones, DST, stagger), ScheduleState, the schedule admin, default
    schedules. Tables in public (platform schedules) and in every tenant schema."""

    name = "schedules"
    verbose_name = "Schedules"

    def ready(self) -> None:
        from schedules.services import default_schedules_ensure
        from tenants.defaults import tenant_default_register

        tenant_default_register(default_schedules_ensure)
