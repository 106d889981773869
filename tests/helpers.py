"""Helpers shared by the tests (not tests themselves, and not fixtures: those are in
conftest.py, which no test imports)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_tenants.utils import schema_context

from accounts.models import User
from backoffice.two_factor import two_factor_required
from beat.scheduler import TenantScheduler
from jobs.models import JobRun
from saas.celery import app
from schedules.models import ScheduleState
from tenants.context import connection_tenant_set
from tenants.models import Tenant
from tests.prefork import ROOT, worker_database_url

WAIT = 20
PASSWORD = "correct-horse-battery"


def make_user(username: str, **flags: bool) -> User:
    user = User(username=username, email=f"{username}@example.com", **flags)
    user.set_password(PASSWORD)
    user.save()
    return user


def host_client(host: str, user: User | None = None) -> Client:
    client = Client(HTTP_HOST=host)
    if user is not None:
        client.force_login(user)
        connection_tenant_set(None)
        if two_factor_required(user):
            staff_verify(client, user)
    return client


def staff_verify(client: Client, user: User) -> None:
    """What signing in with a second factor leaves in the session (the real sign-in, code and
    all, is tested in tests/backoffice/test_two_factor.py): for tests of what comes after."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=user, name="tests", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    connection_tenant_set(None)


def portal_client(tenant: Tenant, user: User | None = None) -> Client:
    """A client on the tenant's domain; signed in, the session lives in the tenant's schema."""
    from django_tenants.utils import schema_context

    client = Client(HTTP_HOST=tenant.primary_domain)
    if user is not None:
        with schema_context(tenant.schema_name):
            client.force_login(user)
    return client


def markers_everywhere() -> dict[str, int]:
    """How many marker rows (IntervalSchedule, period "days") each schema holds."""
    counts = {}
    with connection.cursor() as cursor:
        for schema in ("public", "acme", "globex"):
            cursor.execute(
                f"SELECT count(*) FROM {schema}.django_celery_beat_intervalschedule "
                "WHERE period='days'"
            )
            counts[schema] = cursor.fetchone()[0]
    return counts


def wait_for_state(task_id: str, *states: str) -> JobRun:
    deadline = time.monotonic() + WAIT
    run = None
    while time.monotonic() < deadline:
        run = JobRun.objects.filter(task_id=task_id).first()
        if run is not None and run.state in states:
            return run
        time.sleep(0.05)
    detail = run and (run.state, run.error_type, run.error_message)
    raise AssertionError(f"JobRun {task_id} never reached {states}: {detail}")


# --- Sessions ------------------------------------------------------------------------------------
def session_make(
    schema: str,
    user: Any = None,
    *,
    age: timedelta = timedelta(0),
    expires_in: timedelta = timedelta(days=1),
    user_agent: str = "test-agent",
    ip: str = "203.0.113.9",
) -> str:
    """A session in `schema`, made through the real store: signed in as `user` (a cookie with
    this key is signed in on that schema's domain), created `age` ago, expiring `expires_in`
    from now (negative: expired). Returns its key."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from usersessions.engine import SessionStore
    from usersessions.models import Session

    with schema_context(schema):
        store = SessionStore()
        store.client_ip, store.user_agent = ip, user_agent
        if user is not None:
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        else:
            store["visits"] = 1
        store.create()
        assert store.session_key is not None  # create() chose one
        now = timezone.now()
        Session.objects.filter(pk=store.session_key).update(
            created_at=now - age, expire_date=now + expires_in
        )
    return store.session_key


def session_keys(schema: str, **filters: Any) -> set[str]:
    from django_tenants.utils import schema_context

    from usersessions.models import Session

    with schema_context(schema):
        return set(Session.objects.filter(**filters).values_list("session_key", flat=True))


def staff_client(username: str, group: str) -> Client:
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return host_client("localhost", user)


# --- Beat ------------------------------------------------------------------------------------------
def periodic(
    schema: str,
    name: str,
    marker: int,
    task: str = "tests.worker_tasks.record_schema",
    due: bool = True,
) -> PeriodicTask:
    with schema_context(schema):
        every = IntervalSchedule.objects.create(every=1, period="days")
        return PeriodicTask.objects.create(
            name=name, task=task, interval=every, args=f"[{marker}]",
            last_run_at=timezone.now() - dt.timedelta(days=2 if due else 0),
        )  # fmt: skip


def markers(schema: str) -> list[int]:
    with schema_context(schema):
        return sorted(
            IntervalSchedule.objects.filter(period="days", every__gt=1).values_list(
                "every", flat=True
            )
        )


def scheduler() -> TenantScheduler:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("saas:beat:*"):  # earlier tests' leader lock and send guards
        client.delete(key)
    return TenantScheduler(app=app)


def tenant_keys(s: TenantScheduler) -> set[str]:
    s.tick()  # changes are picked up once per tick
    # The tests' own entries (tenants also have their default schedules).
    return {k for k in s.schedule if ":beat-" in k and not k.startswith("public:")}


# --- Schedule forms (tenant admin) ------------------------------------------------------------
SCHEDULE_ADD = "/admin/t/acme/django_celery_beat/periodictask/add/"
SCHEDULE_LIST = "/admin/t/acme/django_celery_beat/periodictask/"
SCHEDULE_TASK = "tenants.tasks.tenant_tables_count_task"


def form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "nightly-usage", "task": SCHEDULE_TASK, "enabled": "on", "description": "",
        "cron": "0 6 * * mon-fri", "interval": "", "solar": "", "clocked": "",
        "start_time_0": "", "start_time_1": "", "catch_up": "on", "args": "[]",
        "kwargs": "{}", "expires_0": "", "expires_1": "", "expire_seconds": "", "queue": "",
        "priority": "", "headers": "{}",
    }  # fmt: skip
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def names(schema: str) -> set[str]:
    with schema_context(schema):
        return set(PeriodicTask.objects.values_list("name", flat=True))


# --- Beat processes -----------------------------------------------------------------------------
def start_beat(name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": worker_database_url(), "BEAT_LOCK_TTL_S": "4"}  # fmt: skip
    log = open(f"/tmp/beat-{name}.log", "wb")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "saas", "beat", "--loglevel", "INFO",
         "--max-interval", "1", "--pidfile="],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def wait(condition: object, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout}s")


# --- Faults ---------------------------------------------------------------------------------------
def backends_terminate() -> int:
    """Cut every other connection to the test database (what a PostgreSQL restart does to
    them); the caller's own connection stays."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@contextmanager
def connections_refused() -> Iterator[None]:
    """New connections to the test database are refused (a server still starting); open ones,
    ours included, stay usable."""
    name = connection.settings_dict["NAME"]
    with _side_connection() as side:
        side.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            yield
        finally:
            side.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@contextmanager
def _side_connection() -> Iterator[Any]:
    """A connection to the server's maintenance database, to act on the test database from
    outside it (PostgreSQL refuses some of that from inside)."""
    import psycopg

    db = connection.settings_dict
    side = psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
        password=db["PASSWORD"] or None, dbname="postgres", autocommit=True,
    )  # fmt: skip
    try:
        yield side
    finally:
        side.close()


def wait_until(condition: Callable[[], object], timeout: float = WAIT, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what or condition} did not happen within {timeout}s")


@contextmanager
def broker_switched(url: str) -> Iterator[None]:
    """This process sends to `url` (another Redis, or a closed port) for the block."""
    from django.conf import settings

    previous_url, previous_setting = app.conf.broker_url, settings.CELERY_BROKER_URL
    app.conf["broker_url"] = settings.CELERY_BROKER_URL = url
    _send_pools_reset()
    try:
        yield
    finally:
        app.conf["broker_url"] = previous_url
        settings.CELERY_BROKER_URL = previous_setting
        _send_pools_reset()


def _send_pools_reset() -> None:
    # Celery takes its producer pools from kombu's registry, keyed by the broker URL, at first
    # use: forgetting them makes the next send look the URL up again (kombu keeps the pools).
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


# --- Beat driven by a clock (tests/beat/conftest.py) ------------------------------------------
CLOCK_TASK = "tests.worker_tasks.record_schema"


def cron_task(
    schema: str,
    name: str,
    cron: str,
    zone: str,
    last_run: dt.datetime,
    catch_up: bool = True,
    task: str = CLOCK_TASK,
) -> PeriodicTask:
    minute, hour, dom, month, dow = cron.split()
    with schema_context(schema):
        crontab = CrontabSchedule.objects.create(
            minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow,
            timezone=zone,
        )  # fmt: skip
        row = PeriodicTask.objects.create(
            name=name,
            task=task,
            crontab=crontab,
            last_run_at=last_run,
            args="[0]" if task == CLOCK_TASK else "[]",
        )
        ScheduleState.objects.create(periodic_task=row, catch_up=catch_up)
        return row


def runs(schema: str, name: str) -> tuple[int, dt.datetime | None]:
    with schema_context(schema):
        row = PeriodicTask.objects.get(name=name)
        return row.total_run_count, row.last_run_at


def tick_until_idle(s: TenantScheduler) -> None:
    for _ in range(50):  # a tick that sends returns 0: call again until nothing is due
        if s.tick() > 0:
            return
    raise AssertionError("beat kept sending")


def at(clock: Callable[[dt.datetime], None], s: TenantScheduler, when: dt.datetime) -> None:
    clock(when)
    tick_until_idle(s)


@contextmanager
def database_outage() -> Iterator[None]:
    """The test database down for the block: every connection to it cut (ours included) and
    new ones refused, as while PostgreSQL restarts."""
    name = connection.settings_dict["NAME"]
    with _side_connection() as side:
        side.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        side.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        try:
            yield
        finally:
            side.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            connection.close()  # ours was cut: the next query opens a new one


# The management forms of the tenant page's tabs (console/admin.py), for tests that post it.
TENANT_PAGE_INLINES = {
    f"{prefix}-{field}": "0"
    for prefix in (
        "domains",
        "memberships",
        "schedulesummary",
        "jobrun",
        "reports",
        "backup",
        "backup_policy",
        "artifact",
    )
    for field in ("TOTAL_FORMS", "INITIAL_FORMS")
}


# --- Artifacts -----------------------------------------------------------------------------------
def artifact_make(
    tenant: Tenant,
    content: bytes = b"hello, artifact\n",
    *,
    kind: str = "report",
    title: str = "Monthly report",
    filename: str = "report.pdf",
    **options: Any,
) -> Any:
    """An artifact written through the real service into the configured `artifacts` storage."""
    from artifacts.services import artifact_write

    return artifact_write(
        tenant=tenant, kind=kind, title=title, filename=filename, content=iter([content]),
        **options,
    )  # fmt: skip


# --- Reports -------------------------------------------------------------------------------------
REPORT_SAMPLES = ROOT / ".artifacts" / "reports"
# CVE-2023-33733's payload shape: reportlab evaluated a `color` attribute holding this.
CVE_PAYLOAD = (
    "[[[getattr(pow, Word('__globals__'))['os'].system('touch /tmp/pwned') for Word in "
    "[ orgTypeFun( 'Word', (str,), { 'mutated': 1, 'startswith': lambda self, x: 1 == 0, "
    "'__eq__': lambda self, x: self.mutate() and self.mutated < 0 and str(self) == x, "
    "'mutate': lambda self: { setattr(self, 'mutated', self.mutated - 1) }, "
    "'__hash__': lambda self: hash(str(self)), }, ) ] ] for orgTypeFun in [type(type(1))] "
    "for none in [[].append(1)]]] and 1 == 0"
)
CVE_MARKUP = f'<font color="{CVE_PAYLOAD}">exploit</font>'


def report_sample_path(name: str) -> Path:
    """Where a test leaves the PDF it made, for a person to look at (.artifacts/, git-ignored)."""
    REPORT_SAMPLES.mkdir(parents=True, exist_ok=True)
    return REPORT_SAMPLES / name


def report_stored_pdf(artifact_id: Any, sample: str) -> tuple[Any, Path]:
    """The report artifact and its stored bytes, copied to a sample file (report_sample_path)
    to be read back with pypdf and for a person to look at."""
    from artifacts.models import Artifact
    from artifacts.storage import artifact_storage

    artifact = Artifact.objects.get(pk=artifact_id)
    with artifact_storage().open(artifact.storage_key, "rb") as stored:
        data = stored.read()
    path = report_sample_path(sample)
    path.write_bytes(data)
    return artifact, path


def pdf_read(path: Path) -> Any:
    from pypdf import PdfReader

    return PdfReader(str(path))


def pdf_text(path: Path) -> str:
    """The text of every page, whitespace collapsed (a long name may wrap)."""
    return " ".join(" ".join((page.extract_text() or "").split()) for page in pdf_read(path).pages)


def pdf_fonts(path: Path) -> set[str]:
    """Base names of the fonts the PDF embeds (a TrueType subset is "ABCDEF+DejaVuSans")."""
    found: set[str] = set()
    for page in pdf_read(path).pages:
        fonts = page.get("/Resources", {}).get_object().get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is not None and "/FontFile2" in descriptor.get_object():
                found.add(str(font["/BaseFont"]).lstrip("/"))
    return found


def pdf_page_png(pdf: Path, page: int, png_stem: Path, dpi: int = 60) -> Path:
    """One page as a PNG by poppler's pdftoppm (scripts/suite_tools.py installs it for
    `make test`)."""
    from scripts.suite_tools import tool_path

    subprocess.run(
        [tool_path("pdftoppm"), "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile",
         str(pdf), str(png_stem)],
        check=True, timeout=60,
    )  # fmt: skip
    return png_stem.with_suffix(".png")


def jobruns_make(tenant: Tenant, count: int, *, day: dt.datetime, state: str = "succeeded",
                 task: str = "tests.report_job", error: str = "") -> None:  # fmt: skip
    """`count` finished jobs of `tenant`, queued a minute apart from `day`."""
    import uuid

    JobRun.objects.bulk_create(
        JobRun(
            task_id=uuid.uuid4().hex, task_name=task, tenant=tenant, tenant_slug=tenant.slug,
            schema_name=tenant.schema_name, state=state, attempt=1,
            queued_at=day + timedelta(minutes=i), started_at=day + timedelta(minutes=i),
            finished_at=day + timedelta(minutes=i, seconds=2), summary=f"{tenant.slug} job {i}",
            error_type="RuntimeError" if error else "", error_message=error,
        )
        for i in range(count)
    )  # fmt: skip


# --- Servers a test starts ------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port nothing listens on now (for a server the test starts)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server() -> Iterator[int]:
    """Django on 127.0.0.1 in a thread, serving the test database (committed data) and static
    files; yields its port. Tenant domains route by Host (`acme.localhost:<port>`)."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    thread = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    try:
        yield thread.port
    finally:
        thread.terminate()


def _shape_rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(tuple(str(v) for v in row) for row in cursor.fetchall())


def schema_shape(schema: str, *, times: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Everything that makes two schemas equal, with the schema's own name taken out: tables,
    columns, defaults, indexes, constraints, sequences and their positions, and every row
    (without the timestamp columns unless `times`: a migrated and a template-built schema
    differ there by construction; a restored one must not)."""
    shape = {
        "tables": _shape_rows(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema=%s",
            [schema],
        ),
        "columns": _shape_rows(
            """SELECT table_name, column_name, data_type, is_nullable,
                      replace(coalesce(column_default, ''), %s, 'S'), is_identity,
                      coalesce(identity_generation, ''), ordinal_position
               FROM information_schema.columns WHERE table_schema=%s""",
            [schema + ".", schema],
        ),
        "indexes": _shape_rows(
            "SELECT indexname, replace(indexdef, %s, 'S.') FROM pg_indexes WHERE schemaname=%s",
            [schema + ".", schema],
        ),
        "constraints": _shape_rows(
            """SELECT c.conrelid::regclass::text <> '' AS has_rel, rel.relname, c.conname,
                      c.contype, replace(pg_get_constraintdef(c.oid), %s, 'S.')
               FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
               JOIN pg_class rel ON rel.oid = c.conrelid WHERE n.nspname=%s""",
            [schema + ".", schema],
        ),
        "sequences": _shape_rows(
            """SELECT sequence_name, data_type, start_value, increment, maximum_value
               FROM information_schema.sequences WHERE sequence_schema=%s""",
            [schema],
        ),
        "sequence_positions": _shape_rows(
            "SELECT sequencename, coalesce(last_value, 0) FROM pg_sequences WHERE schemaname=%s",
            [schema],
        ),
    }
    # Rows of every table: what migrations (and post_migrate handlers) wrote.
    # Times (django_migrations.applied, PeriodicTasks.last_update) differ by construction.
    for table, _kind in shape["tables"]:
        columns = ", ".join(
            f'"{name}"'
            for (tbl, name, data_type, *_rest) in shape["columns"]
            if tbl == table and (times or not data_type.startswith("timestamp"))
        )
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT {columns} FROM "{schema}"."{table}"')
            shape[f"rows:{table}"] = sorted(tuple(map(str, r)) for r in cursor.fetchall())
    return shape


# --- Restores ------------------------------------------------------------------------------------
def schema_fingerprint(schema: str) -> dict[str, Any]:
    """What a restore elsewhere must leave byte-identical in `schema`: the schema's and its
    relations' identities (oid, relfilenode: the very objects, not copies) and every table's
    rows in full, timestamps included, and every sequence's position."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema])
        (namespace,) = cursor.fetchone()
        cursor.execute(
            "SELECT relname, relkind, oid, relfilenode FROM pg_class WHERE relnamespace = %s "
            "ORDER BY relname",
            [namespace],
        )
        relations = cursor.fetchall()
        contents: dict[str, Any] = {}
        for name, kind, *_ in relations:
            if kind == "r":
                cursor.execute(
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), "
                    f'\'\')) FROM "{schema}"."{name}" t'
                )
                contents[name] = cursor.fetchone()
            elif kind == "S":
                cursor.execute(f'SELECT last_value, is_called FROM "{schema}"."{name}"')
                contents[name] = cursor.fetchone()
    return {"namespace": namespace, "relations": relations, "contents": contents}


def scratch_schemas() -> list[str]:
    """Restores' scratch and trash schemas still in the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, '_restore_')")
        return sorted(name for (name,) in cursor.fetchall())


def restores_clean() -> None:
    """After a test that restored: the registry's rows, tenants made by restore-as-new (rows
    and schemas) and any scratch schema, so that live_db's own cleanup can run."""
    from backoffice.models import AuditEntry
    from backups.models import Backup, Restore, TenantKey
    from jobs.tenant_cache import tenant_cache_clear

    connection_tenant_set(None)
    extra = list(Tenant.objects.exclude(slug__in=["public", "acme", "globex"]))
    Restore.objects.all().delete()
    Backup.objects.all().delete()
    TenantKey.objects.exclude(tenant__slug__in=["acme", "globex"]).delete()
    AuditEntry.objects.filter(tenant__in=extra).delete()
    with connection.cursor() as cursor:
        for name in scratch_schemas() + [t.schema_name for t in extra]:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    for tenant in extra:
        tenant.delete()
    Tenant.objects.filter(slug__in=["acme", "globex"]).update(status=Tenant.Status.ACTIVE)
    tenant_cache_clear()
