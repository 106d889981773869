from django.apps import AppConfig


class BackupsConfig(AppConfig):
    # Shared app: the backup registry must outlive a broken tenant schema, so it lives in public.
    name = "backups"

    def ready(self) -> None:
        from artifacts.models import Artifact
        from artifacts.serving import plaintext_opener_register
        from backups.services import backup_plaintext

        # An encrypted backup is downloaded decrypted (artifacts.serving streams it).
        plaintext_opener_register(Artifact.Kind.BACKUP, backup_plaintext)
