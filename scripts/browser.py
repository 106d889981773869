"""Find or install the Chromium the browser tests drive (Playwright for Python).

Order:
1. CHROMIUM_PATH from the environment, if set: it must exist, or we stop with a clear message;
2. a Chromium on the machine (`chromium`, `chromium-browser`, `google-chrome`);
3. install one: Debian's `chromium` package when running as root on Debian (Playwright's own
   download host is often unreachable from build machines), otherwise
   `playwright install chromium` into Playwright's cache.

The path found is written to .dev/chromium, which tests/browser/conftest.py reads. A missing
browser stops `make test`; it is never a skipped test.

Usage: python scripts/browser.py ensure
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATH_FILE = ROOT / ".dev" / "chromium"
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def say(message: str) -> None:
    print(f"[browser] {message}", flush=True)


def on_machine() -> str | None:
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def playwrights_own() -> str | None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        path = p.chromium.executable_path
    return path if Path(path).exists() else None


def install() -> str:
    if os.geteuid() == 0 and Path("/etc/debian_version").exists() and shutil.which("apt-get"):
        say("installing Debian's chromium (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=env,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        found = on_machine()
    else:
        say("installing Playwright's chromium (playwright install chromium)")
        subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"], check=True)
        found = playwrights_own()
    if not found:
        raise SystemExit("\n*** Chromium could not be installed; the browser tests need it.\n")
    return found


def ensure() -> str:
    explicit = os.environ.get("CHROMIUM_PATH")
    if explicit:
        if not Path(explicit).exists():
            raise SystemExit(f"\n*** CHROMIUM_PATH={explicit} does not exist.\n")
        found = explicit
    else:
        found = on_machine() or playwrights_own() or install()
    PATH_FILE.parent.mkdir(exist_ok=True)
    PATH_FILE.write_text(found + "\n")
    say(f"chromium: {found}")
    return found


if __name__ == "__main__":
    if sys.argv[1:] != ["ensure"]:
        raise SystemExit(__doc__)
    ensure()
