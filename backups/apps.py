from django.apps import AppConfig


class BackupsConfig(AppConfig):
    # Shared app: the backup registry must outlive a broken tenant schema, so it lives in public.
    # Backup, verify, restore and retention arrive with the backups issue.
    name = "backups"
