"""The schedule change log (from tenants) and the cross-tenant overview (from backoffice) move
here: model state moves, tables are renamed to beat_*, content types are relabelled."""

import django.db.models.deletion
from django.db import migrations, models

from saas.migration_ops import model_relabel


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0003_schedulesummary"),
        ("tenants", "0003_tenant_session_max_age"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ScheduleChange",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("schema_name", models.CharField(max_length=63)),
                        ("at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"db_table": "tenants_schedulechange"},
                ),
                migrations.CreateModel(
                    name="ScheduleSummary",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("schema_name", models.CharField(max_length=63)),
                        ("name", models.CharField(max_length=200)),
                        ("task", models.CharField(db_index=True, max_length=200)),
                        ("schedule", models.CharField(max_length=300)),
                        ("enabled", models.BooleanField()),
                        ("last_run_at", models.DateTimeField(blank=True, null=True)),
                        ("next_run_at", models.DateTimeField(blank=True, null=True)),
                        ("missed_runs", models.PositiveIntegerField(default=0)),
                        ("refreshed_at", models.DateTimeField()),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="tenants.tenant",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "backoffice_schedulesummary",
                        "verbose_name": "schedule (all tenants)",
                        "verbose_name_plural": "schedules (all tenants)",
                        "ordering": ["schema_name", "name"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("schema_name", "name"), name="schedule_summary_key"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="schedulechange", table=None),
        migrations.AlterModelTable(name="schedulesummary", table=None),
        model_relabel("tenants", "beat", "ScheduleChange"),
        model_relabel("backoffice", "beat", "ScheduleSummary"),
    ]
