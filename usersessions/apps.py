from django.apps import AppConfig


class UserSessionsConfig(AppConfig):
    """Sessions of our own: Django's database sessions plus who, from where and since when, in
    the public schema (staff) and in every tenant schema (portal users). The label is not
    "sessions" so it cannot clash with django.contrib.sessions."""

    name = "usersessions"
    label = "usersessions"
    verbose_name = "Sessions"

    def ready(self) -> None:
        from usersessions import receivers  # noqa: F401  (sessions end when access ends)
