"""Find or install the programs the test suite drives beside Python: Chromium (browser tests),
nginx (the X-Accel-Redirect test), poppler's pdftoppm (report pages as PNGs) and age (backups
are decrypted with the real tool, as a person would).

For each, in order:
1. its variable from the environment (CHROMIUM_PATH, NGINX_PATH, PDFTOPPM_PATH, AGE_PATH), if set: it
   must exist, or we stop with a clear message: an explicit setting is never replaced;
2. one on the machine (the PATH, then the usual places);
3. Debian's package, when running as root on Debian (Playwright's own Chromium download is often
   unreachable from build machines); for Chromium elsewhere, `playwright install chromium`.

Each path found is written to .dev/<tool>, which the tests read. A missing program stops
`make test`; no test is ever skipped for it.

Usage: python scripts/suite_tools.py ensure [chromium|nginx|pdftoppm|age ...]   (default: all)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / ".dev"


@dataclass(frozen=True)
class Tool:
    name: str
    variable: str
    commands: tuple[str, ...]
    debian_package: str
    needed_by: str
    places: tuple[str, ...] = ()  # where it lives when not on the PATH (root's sbin)
    fallback: Callable[[], str | None] | None = field(default=None)  # off Debian


def _playwrights_chromium() -> str | None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        path = p.chromium.executable_path
    return path if Path(path).exists() else None


def _playwright_install() -> str | None:
    subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"], check=True)
    return _playwrights_chromium()


TOOLS = {
    tool.name: tool
    for tool in (
        Tool("chromium", "CHROMIUM_PATH",
             ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"),
             "chromium", "the browser tests", fallback=_playwright_install),
        Tool("nginx", "NGINX_PATH", ("nginx",), "nginx", "the X-Accel-Redirect test",
             places=("/usr/sbin/nginx",)),
        Tool("pdftoppm", "PDFTOPPM_PATH", ("pdftoppm",), "poppler-utils", "the report tests"),
        Tool("age", "AGE_PATH", ("age",), "age", "the backup encryption tests"),
    )
}  # fmt: skip


def say(message: str) -> None:
    print(f"[test tools] {message}", flush=True)


def on_machine(tool: Tool) -> str | None:
    for command in tool.commands:
        found = shutil.which(command)
        if found:
            return found
    for place in tool.places:
        if Path(place).exists():
            return place
    return _playwrights_chromium() if tool.name == "chromium" else None


def _debian_root() -> bool:
    return (
        os.geteuid() == 0 and Path("/etc/debian_version").exists() and bool(shutil.which("apt-get"))
    )


def install(tool: Tool) -> str:
    if _debian_root():
        say(f"installing Debian's {tool.debian_package} (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        subprocess.run(["apt-get", "install", "-y", "-q", tool.debian_package], check=True,
                       env=env, stdout=subprocess.DEVNULL)  # fmt: skip
        found = on_machine(tool)
    elif tool.fallback is not None:
        say(f"installing {tool.name} without apt-get")
        found = tool.fallback()
    else:
        raise SystemExit(
            f"\n*** {tool.name} is missing and cannot be installed here (needs root on Debian): "
            f"install {tool.debian_package}, or set {tool.variable}; {tool.needed_by} need it.\n"
        )
    if not found:
        raise SystemExit(f"\n*** {tool.name} could not be installed; {tool.needed_by} need it.\n")
    return found


def tool_ensure(tool: Tool) -> str:
    explicit = os.environ.get(tool.variable)
    if explicit:
        if not Path(explicit).exists():
            raise SystemExit(f"\n*** {tool.variable}={explicit} does not exist.\n")
        found = explicit
    else:
        found = on_machine(tool) or install(tool)
    DEV.mkdir(exist_ok=True)
    (DEV / tool.name).write_text(found + "\n")
    say(f"{tool.name}: {found}")
    return found


def tool_path(name: str) -> str:
    """For the tests: the path `ensure` found, or the environment's; an error if neither."""
    tool = TOOLS[name]
    recorded = DEV / name
    path = os.environ.get(tool.variable) or (
        recorded.read_text().strip() if recorded.exists() else ""
    )
    if not path or not Path(path).exists():
        raise RuntimeError(
            f"No {name} for {tool.needed_by}: run `python scripts/suite_tools.py ensure {name}` "
            "(`make test` does)."
        )
    return path


if __name__ == "__main__":
    if sys.argv[1:2] != ["ensure"] or any(name not in TOOLS for name in sys.argv[2:]):
        raise SystemExit(__doc__)
    for name in sys.argv[2:] or list(TOOLS):
        tool_ensure(TOOLS[name])
