"""`make up`: services, migrations, demo data, then web + workers + beat in the foreground.

Every child runs in its own process group; Ctrl-C (or any child exiting) stops every group,
first politely, then with SIGKILL, so no process is left behind. A lock file refuses a second
`make up` while one runs.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
LOCK = ROOT / ".dev" / "up.lock"
WEB_PORT = 8000
STOP_GRACE_S = 10

PROCESSES = {
    "web": [PY, "manage.py", "runserver", f"0.0.0.0:{WEB_PORT}", "--noreload"],
    "worker-short": [PY, "-m", "celery", "-A", "saas", "worker", "-Q", "short", "-c", "2",
                     "-n", "short@%h", "--loglevel", "INFO"],
    "worker-long": [PY, "-m", "celery", "-A", "saas", "worker", "-Q", "long", "-c", "1",
                    "-n", "long@%h", "--loglevel", "INFO"],
    # Backups, verifies and restores: BACKUP_CONCURRENCY at once (default 1).
    "worker-backups": [PY, "-m", "celery", "-A", "saas", "worker", "-Q", "backups", "-c",
                       os.environ.get("BACKUP_CONCURRENCY", "1"), "-n", "backups@%h",
                       "--loglevel", "INFO"],
    "beat": [PY, "-m", "celery", "-A", "saas", "beat", "--loglevel", "INFO", "--pidfile="],
}  # fmt: skip
COLOURS = ["\033[36m", "\033[32m", "\033[35m", "\033[34m", "\033[33m"]


def lock_take() -> object:
    LOCK.parent.mkdir(exist_ok=True)
    handle = LOCK.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        raise SystemExit(
            f"make up is already running (pid {pid}). Stop it with Ctrl-C in its terminal first."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def port_check() -> None:
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", WEB_PORT)) == 0:
            raise SystemExit(f"Port {WEB_PORT} is in use by another program; free it first.")


def step(*args: str) -> None:
    result = subprocess.run([PY, *args], cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"`{' '.join(args)}` failed (exit {result.returncode}).")


def pump(name: str, colour: str, stream: object) -> None:
    prefix = f"{colour}{name:<12}|\033[0m "
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sys.stdout.write(prefix + line)
        sys.stdout.flush()


def stop_all(children: dict[str, subprocess.Popen[str]]) -> None:
    for proc in children.values():
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + STOP_GRACE_S
    for proc in children.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for proc in children.values():
        # The group may hold grandchildren (pool processes) even after its leader exited.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main() -> None:
    _lock = lock_take()
    port_check()
    step("scripts/devservices.py", "ensure")
    step("manage.py", "platform_init")  # migrations, the platform tenant, the staff roles
    step("manage.py", "seed_demo")

    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    children: dict[str, subprocess.Popen[str]] = {}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        for (name, command), colour in zip(PROCESSES.items(), COLOURS, strict=True):
            proc = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, start_new_session=True, bufsize=1,
            )  # fmt: skip
            children[name] = proc
            threading.Thread(target=pump, args=(name, colour, proc.stdout), daemon=True).start()
        print(f"Running: {', '.join(children)}. Ctrl-C stops everything.", flush=True)
        while not stopping.is_set():
            exited = [name for name, proc in children.items() if proc.poll() is not None]
            if exited:
                print(f"{', '.join(exited)} exited; stopping the stack.", flush=True)
                break
            stopping.wait(0.5)
    finally:
        print("Stopping…", flush=True)
        stop_all(children)
        print("Stopped; no process left behind.", flush=True)


if __name__ == "__main__":
    main()
