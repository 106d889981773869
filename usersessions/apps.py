from django.apps import AppConfig

from schedules.defaults import DefaultSchedule


class UserSessionsConfig(AppConfig):
    """Sessions of our own: Django's database sessions plus who, from where and since when, in
    the public schema (staff) and in every tenant schema (portal users). The label is not
    "sessions" so it cannot clash with django.contrib.sessions."""

    name = "usersessions"
    label = "usersessions"
    verbose_name = "Sessions"
    default_schedules = [
        DefaultSchedule(
            name="sessions-cleanup-daily",
            task="usersessions.tasks.sessions_cleanup_task",
            cron="15 3 * * *",
            description="Delete expired sessions and those past the tenant's maximum age.",
        ),
    ]

    def ready(self) -> None:
        from usersessions import receivers  # noqa: F401  (sessions end when access ends)
