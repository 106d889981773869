from django.apps import AppConfig


class ReportsConfig(AppConfig):
    # Per-tenant app (TENANT_APPS): report data selectors, PDF rendering and tenant downloads
    # arrive with the reports issue; the app is installed now so its tables land in the tenant
    # template from the start.
    name = "reports"
