from django.db import migrations, models


class Migration(migrations.Migration):
    """The tenant's status before a restore: a restore whose process died is put back to it by
    another process (backups.restore.restores_recover)."""

    dependencies = [("backups", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="restore",
            name="previous_status",
            field=models.CharField(blank=True, max_length=20),
        ),
    ]
