from django.apps import AppConfig


class BeatConfig(AppConfig):
    """The one beat for every tenant: scheduler, change log, leadership, overview read model.
    Public schema only."""

    name = "beat"
    verbose_name = "Beat"

    def ready(self) -> None:
        from beat import receivers

        receivers.connect()
