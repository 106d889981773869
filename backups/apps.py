from django.apps import AppConfig

from schedules.defaults import DefaultSchedule


class BackupsConfig(AppConfig):
    # Shared app: the backup registry must outlive a broken tenant schema, so it lives in public.
    name = "backups"
    # Every tenant's own, in its zone, through its own beat table: the nightly backup spread
    # over 01:00-05:00 by a stable per-tenant offset (so a thousand tenants do not start at
    # once, whatever BEAT_STAGGER_WINDOW_S says), and the weekly restore drill of the newest.
    default_schedules = [
        DefaultSchedule(
            name="backup-nightly",
            task="backups.tasks.backup_create_task",
            cron="0 1 * * *",
            spread_minutes=240,
            description="Back up the tenant's data every night (its own time within 01:00-05:00).",
            kwargs={"kind": "scheduled"},
        ),
        DefaultSchedule(
            name="backup-verify-weekly",
            task="backups.tasks.backup_verify_latest_task",
            cron="0 5 * * 0",
            spread_minutes=120,
            description="Restore the newest backup into a scratch schema and compare it with its "
            "manifest, every Sunday morning.",
        ),
    ]

    def ready(self) -> None:
        from artifacts.models import Artifact
        from artifacts.serving import plaintext_opener_register
        from backups.services import backup_plaintext

        # An encrypted backup is downloaded decrypted (artifacts.serving streams it).
        plaintext_opener_register(Artifact.Kind.BACKUP, backup_plaintext)
