from django.apps import AppConfig


class DataportConfig(AppConfig):
    """Import and export of a tenant's data (docs/architecture.md, "Import and export"): the
    runs, the streaming readers and writers, the previews, the tenant data export. Each app
    keeps its own resources (`<app>/resources.py`); this app finds them (registry.py)."""

    name = "dataport"
    verbose_name = "Import and export"
    default_auto_field = "django.db.models.BigAutoField"
