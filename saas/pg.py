"""PostgreSQL's client programs (pg_dump, pg_restore, psql) of the server's major version:
finding them, running them against the project's database, streaming their output.

Provisioning uses pg_dump to capture its schema template; backups will use all three. A client
of another major version is refused: an older pg_dump will not dump a newer server, and a newer
one may write syntax the server does not know.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import IO, Literal, cast

from django.conf import settings
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper as PgDatabaseWrapper

PgTool = Literal["pg_dump", "pg_restore", "psql"]


class PgToolUnavailable(RuntimeError):
    """No client program of the server's major version was found."""


class PgToolFailed(RuntimeError):
    """A client program exited with an error; the message carries its stderr."""


def server_version() -> int:
    """The version of the server the default connection talks to (150019 for 15.19)."""
    return cast(PgDatabaseWrapper, connection).pg_version


def server_major() -> int:
    return server_version() // 10000


def _candidates(tool: PgTool, major: int) -> Iterator[str | None]:
    configured = settings.TENANT_TEMPLATE_PG_DUMP  # PG_DUMP: its directory holds the others
    if configured:
        yield configured if tool == "pg_dump" else str(Path(configured).with_name(tool))
    yield f"/usr/lib/postgresql/{major}/bin/{tool}"
    yield shutil.which(tool)
    # The embedded server `make up` starts on machines without PostgreSQL ships its own.
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin:
        yield str(Path(spec.origin).parent / "pginstall" / "bin" / tool)


@cache
def pg_tool_path(tool: PgTool, major: int) -> str:
    """The path of `tool` whose major version is `major` (cached per process)."""
    for candidate in _candidates(tool, major):
        if not candidate or not os.path.exists(candidate):
            continue
        out = subprocess.run([candidate, "--version"], capture_output=True, text=True).stdout
        match = re.search(r"(\d+)\.", out)
        if match and int(match.group(1)) == major:
            return candidate
    raise PgToolUnavailable(f"no {tool} for PostgreSQL {major} found")


def _command(tool: PgTool, args: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run `tool` against the default database."""
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": str(db.get("PASSWORD") or "")}
    command = [pg_tool_path(tool, server_major()), *args]
    command += ["--dbname", str(db["NAME"]), "--username", str(db.get("USER") or "postgres")]
    if db.get("HOST"):
        command += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        command += ["--port", str(db["PORT"])]
    return command, env


def pg_run(tool: PgTool, args: Sequence[str]) -> str:
    """Run `tool` to completion; its standard output as text. PgToolFailed on a non-zero exit."""
    command, env = _command(tool, args)
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise PgToolFailed(f"{tool} failed: {result.stderr.strip()}")
    return result.stdout


@contextmanager
def pg_stream(tool: PgTool, args: Sequence[str]) -> Iterator[IO[bytes]]:
    """Run `tool` and hand its standard output over as a binary stream, so a large dump is
    never held in memory. On leaving the block the program is waited for; PgToolFailed if it
    failed (the stream may then be short: the caller must discard what it wrote)."""
    command, env = _command(tool, args)
    # stderr to a file, not a pipe: a pipe nobody reads while stdout is consumed could fill up
    # and stall the program.
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env=env) as process,
    ):
        assert process.stdout is not None
        try:
            yield process.stdout
        finally:
            process.stdout.close()
            code = process.wait()
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
    if code != 0:
        raise PgToolFailed(f"{tool} failed: {stderr.strip()}")
