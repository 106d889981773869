"""JobRun moves here from backoffice: the model state moves, then the table is renamed from
backoffice_jobrun to jobs_jobrun, and its content type (with its permissions) is relabelled."""

import django.db.models.deletion
from django.db import migrations, models

from saas.migration_ops import model_relabel


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0003_schedulesummary"),
        ("tenants", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="JobRun",
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
                        ("task_id", models.CharField(max_length=64)),
                        ("task_name", models.CharField(max_length=200)),
                        ("tenant_slug", models.CharField(blank=True, max_length=40)),
                        ("schema_name", models.CharField(blank=True, max_length=63)),
                        ("queue", models.CharField(blank=True, max_length=40)),
                        ("args", models.JSONField(blank=True, default=list)),
                        ("kwargs", models.JSONField(blank=True, default=dict)),
                        ("arguments_truncated", models.BooleanField(default=False)),
                        ("summary", models.CharField(blank=True, max_length=200)),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("running", "Running"),
                                    ("succeeded", "Succeeded"),
                                    ("failed", "Failed"),
                                    ("retrying", "Retrying"),
                                    ("skipped", "Skipped"),
                                    ("revoked", "Revoked"),
                                    ("lost", "Lost"),
                                ],
                                default="queued",
                                max_length=20,
                            ),
                        ),
                        ("attempt", models.PositiveIntegerField(default=0)),
                        ("attempts", models.JSONField(blank=True, default=list)),
                        ("progress_done", models.PositiveIntegerField(blank=True, null=True)),
                        ("progress_total", models.PositiveIntegerField(blank=True, null=True)),
                        ("progress_message", models.CharField(blank=True, max_length=200)),
                        ("queued_at", models.DateTimeField()),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("worker", models.CharField(blank=True, max_length=200)),
                        ("error_type", models.CharField(blank=True, max_length=200)),
                        ("error_message", models.TextField(blank=True)),
                        ("traceback", models.TextField(blank=True)),
                        ("result_summary", models.JSONField(blank=True, null=True)),
                        ("artifact_url", models.CharField(blank=True, max_length=500)),
                        (
                            "retry_of",
                            models.ForeignKey(
                                blank=True,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="jobs.jobrun",
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="tenants.tenant",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "backoffice_jobrun",
                        "ordering": ["-queued_at", "-id"],
                        "indexes": [
                            models.Index(fields=["-queued_at"], name="jobrun_queued"),
                            models.Index(
                                fields=["tenant_slug", "-queued_at"], name="jobrun_tenant_queued"
                            ),
                            models.Index(
                                fields=["task_name", "-queued_at"], name="jobrun_task_queued"
                            ),
                            models.Index(
                                fields=["state", "finished_at"], name="jobrun_state_finished"
                            ),
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("task_id",), name="jobrun_task_id_unique"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="jobrun", table=None),
        model_relabel("backoffice", "jobs", "JobRun"),
    ]
