"""ScheduleChange moved to beat (its migration moves the table)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0003_tenant_session_max_age"),
        ("beat", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ScheduleChange")],
            database_operations=[],
        ),
    ]
