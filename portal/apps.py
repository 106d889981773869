from django.apps import AppConfig


class PortalConfig(AppConfig):
    # The tenant users' site on <slug>.<BASE_DOMAIN>: sign-in, password, (later) downloads.
    name = "portal"
