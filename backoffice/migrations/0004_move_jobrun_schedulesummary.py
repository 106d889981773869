"""JobRun moved to jobs, ScheduleSummary to beat (their migrations move the tables)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0003_schedulesummary"),
        ("jobs", "0001_initial"),
        ("beat", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="JobRun"),
                migrations.DeleteModel(name="ScheduleSummary"),
            ],
            database_operations=[],
        ),
    ]
