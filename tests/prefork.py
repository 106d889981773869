"""A real prefork worker in a subprocess, for what an in-thread worker cannot show: time limits
enforced by the pool, a terminated job, a killed pool child, a killed main process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def worker_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class PreforkWorker:
    def __init__(self, queue: str | None = None, **env: str) -> None:
        self.queue = queue or f"prefork-{uuid.uuid4().hex[:8]}"
        self.name = f"{self.queue}@test"
        self.log = Path(f"/tmp/{self.queue}.log")
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> PreforkWorker:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": worker_database_url(),
            **self.env,
        }
        command = [
            sys.executable, "-m", "celery", "-A", "saas", "worker", "-P", "prefork", "-c", "1",
            "-Q", self.queue, "-n", self.name, "-I", "tests.worker_tasks", "--loglevel", "INFO",
            "--without-mingle", "--without-gossip", "--without-heartbeat",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.exists() and " ready." in self.log.read_text(errors="replace"):
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError(
            f"worker not ready in {timeout}s: {self.log.read_text(errors='replace')[-3000:]}"
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pool_children(self) -> list[psutil.Process]:
        return psutil.Process(self.pid).children()

    def kill_all(self) -> None:
        """SIGKILL the main process and its pool at once: nothing gets to record anything."""
        os.killpg(self.pid, signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
            self.proc.wait(15)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)

    def __enter__(self) -> PreforkWorker:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
