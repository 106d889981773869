from django.apps import AppConfig


class JobsConfig(AppConfig):
    """The task framework and job history (JobRun). Public schema only."""

    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from celery.signals import (
            task_postrun,
            task_prerun,
            task_revoked,
            worker_init,
            worker_process_init,
            worker_ready,
            worker_shutdown,
        )

        from jobs.heartbeat import heartbeat_start, heartbeat_stop
        from jobs.tenant_cache import tenant_cache_clear
        from jobs.worker import (
            jobrun_on_revoked,
            worker_commit_mode_set,
            worker_connections_tidy,
        )
        from tenants.signals import tenant_status_changed

        tenant_status_changed.connect(tenant_cache_clear, dispatch_uid="tenant_task_cache_clear")
        task_revoked.connect(jobrun_on_revoked, dispatch_uid="jobrun_revoked")
        worker_ready.connect(heartbeat_start, dispatch_uid="jobs_heartbeat_start")
        worker_init.connect(worker_commit_mode_set, dispatch_uid="jobs_worker_commit")
        worker_process_init.connect(worker_commit_mode_set, dispatch_uid="jobs_child_commit")
        worker_shutdown.connect(heartbeat_stop, dispatch_uid="jobs_heartbeat_stop")
        task_prerun.connect(worker_connections_tidy, dispatch_uid="jobs_connections_prerun")
        task_postrun.connect(worker_connections_tidy, dispatch_uid="jobs_connections_postrun")
