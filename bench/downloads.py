"""Downloads: ours (artifacts.serving through the portal: session, membership, the rule table,
the storage check, the audit row, then the bytes: sendfile for a whole file, as production
runs by default, or streamed with sha256 on the way with ARTIFACTS_SENDFILE=0) against a bare FileResponse
of the same file with no checks (bench/downloads_bare.py). Both run under gunicorn as in
production (3 sync workers), one after the other, on this machine; the client is curl.

1. 8 concurrent downloads of a 200 MB artifact: throughput (bytes / wall time) of each, and the
   growth of the summed RSS of gunicorn's processes (master + workers) during ours.
2. A 1 KB artifact, N sequential downloads each: the median time per request, ours minus bare.

Usage: python bench/downloads.py [--size-mb 200] [--concurrency 8] [--small-runs 300]
Last line: {"throughput_ratio": …, "rss_growth_mb": …, "overhead_ms_p50": …}
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._db import bench_database_create, bench_database_drop  # noqa: E402

DB_NAME = "saas_bench_downloads"
SLUG = "benchdl"
HOST = f"{SLUG}.localhost"
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gunicorn(app: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    process = subprocess.Popen(
        [GUNICORN, app, "--bind", f"127.0.0.1:{port}", "--workers", "3", "--timeout", "300"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn {app} did not start") from None
            time.sleep(0.1)


def _rss_mb(process: subprocess.Popen[bytes]) -> float:
    try:
        parent = psutil.Process(process.pid)
        procs = [parent, *parent.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 1e6
    except psutil.Error:
        return 0.0


def _curl(url: str, cookie: str) -> list[str]:
    return ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}\n",
            "-H", f"Host: {HOST}", "-H", f"Cookie: {cookie}", url]  # fmt: skip


def concurrent(
    url: str, cookie: str, n: int, size: int, server: subprocess.Popen[bytes]
) -> tuple[float, float]:
    """n downloads at once: (MB/s over the wall time, peak RSS growth of the server in MB)."""
    base = _rss_mb(server)
    peak = base
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_mb(server))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    procs = [subprocess.Popen(_curl(url, cookie), stdout=subprocess.PIPE) for _ in range(n)]
    outputs = [p.communicate()[0].decode().split() for p in procs]
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    for code, got in outputs:
        if code not in ("200",) or int(float(got)) != size:
            raise SystemExit(f"a download failed: {code} {got} bytes of {size}")
    return n * size / wall / 1e6, peak - base


def sequential(url: str, cookie: str, runs: int) -> list[float]:
    import http.client

    times = []
    for _ in range(runs):
        conn = http.client.HTTPConnection("127.0.0.1", int(url.split(":")[2].split("/")[0]))
        start = time.perf_counter()
        conn.request("GET", "/" + url.split("/", 3)[3], headers={"Host": HOST, "Cookie": cookie})
        response = conn.getresponse()
        response.read()
        times.append((time.perf_counter() - start) * 1000)
        conn.close()
        if response.status != 200:
            raise SystemExit(f"{url}: {response.status}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--small-runs", type=int, default=300)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-downloads-"))
    os.environ.update({"ARTIFACTS_ROOT": str(workdir), "ARTIFACTS_QUOTA_MB": "100000",
                       "ARTIFACTS_X_ACCEL_LOCATION": "", "ARTIFACTS_S3_BUCKET": "",
                       # The session's auth hash is keyed by it: the servers must share it.
                       "SECRET_KEY": "bench-" + "k" * 60})  # fmt: skip
    url_db = bench_database_create(DB_NAME)
    import django

    django.setup()
    import logging

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.core.management import call_command
    from django_tenants.utils import schema_context

    from accounts.models import User
    from artifacts.services import artifact_write
    from tenants.models import Membership
    from tenants.services import public_tenant_ensure, tenant_provision
    from usersessions.engine import SessionStore

    for name in ("tenants", "jobs", "beat"):
        logging.getLogger(name).setLevel(logging.WARNING)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        public_tenant_ensure(domain="localhost")
        tenant = tenant_provision(name="Bench downloads", slug=SLUG).tenant
        user = User.objects.create_user("bench-alice", "alice@bench.test", "bench-pass-123")
        Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.OWNER)
        with schema_context(tenant.schema_name):
            store = SessionStore()
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.create()
        cookie = f"sessionid={store.session_key}"
        chunk = os.urandom(1024 * 1024)
        big = artifact_write(tenant=tenant, kind="backup", title="Big", filename="big.bin",
                             content=(chunk for _ in range(args.size_mb)))  # fmt: skip
        small = artifact_write(tenant=tenant, kind="report", title="Small", filename="small.bin",
                               content=[os.urandom(1024)])  # fmt: skip
        env = {**os.environ, "DATABASE_URL": url_db, "DEBUG": "0", "SECURE_SSL_REDIRECT": "0",
               "SECURE_COOKIES": "0", "BASE_DOMAIN": "localhost",
               "BENCH_FILE_BIG": str(workdir / big.storage_key),
               "BENCH_FILE_SMALL": str(workdir / small.storage_key), "LOG_LEVEL": "WARNING"}  # fmt: skip
        env.pop("DJANGO_SETTINGS_MODULE", None)
        ours, ours_port = _gunicorn("saas.wsgi:application", env)
        bare, bare_port = _gunicorn("bench.downloads_bare_wsgi:application", env)
        servers += [ours, bare]
        ours_url = f"http://127.0.0.1:{ours_port}/downloads/file/"
        bare_url = f"http://127.0.0.1:{bare_port}/bare/"

        # Warm both (imports, connections), then alternate so drift hits both alike.
        sequential(f"{ours_url}{small.pk}", cookie, 10)
        sequential(f"{bare_url}small", cookie, 10)
        bare_mbs, bare_rss = concurrent(f"{bare_url}big", cookie, args.concurrency, big.size, bare)
        ours_mbs, ours_rss = concurrent(
            f"{ours_url}{big.pk}", cookie, args.concurrency, big.size, ours
        )
        ours_small, bare_small = [], []
        for _ in range(3):
            ours_small += sequential(f"{ours_url}{small.pk}", cookie, args.small_runs // 3)
            bare_small += sequential(f"{bare_url}small", cookie, args.small_runs // 3)
        ours_p50, bare_p50 = statistics.median(ours_small), statistics.median(bare_small)
        from artifacts.models import DownloadEvent

        audited = DownloadEvent.objects.filter(artifact=big)
        sent = audited.filter(outcome="sent").count()  # streamed (and hashed) by Python
        handed = audited.filter(outcome="handed_off").count()  # sendfile (ARTIFACTS_SENDFILE)

        print(f"{'':28}{'ours':>12}{'bare':>12}")
        print(f"{'8 × ' + str(args.size_mb) + ' MB, MB/s':28}{ours_mbs:>12.1f}{bare_mbs:>12.1f}")
        print(f"{'RSS growth, MB':28}{ours_rss:>12.1f}{bare_rss:>12.1f}")
        print(f"{'1 KB p50, ms':28}{ours_p50:>12.2f}{bare_p50:>12.2f}")
        print(f"(ours audited {sent} big downloads streamed and hashed by Python, {handed} handed "
              "to gunicorn's sendfile)")  # fmt: skip
        print(json.dumps({
            "throughput_ratio": round(ours_mbs / bare_mbs, 3),
            "rss_growth_mb": round(ours_rss, 1),
            "overhead_ms_p50": round(ours_p50 - bare_p50, 2),
        }))  # fmt: skip
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        bench_database_drop(DB_NAME)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
