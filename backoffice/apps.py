from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Backoffice"

    def ready(self) -> None:
        from saas import checks  # noqa: F401  (registers the settings checks)

        from . import (
            receivers,
            roles,  # noqa: F401  (post_migrate: staff groups)
        )

        receivers.connect()
