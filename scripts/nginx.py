"""Find or install the nginx the X-Accel-Redirect test drives (tests/artifacts/test_nginx.py).

Order: NGINX_PATH from the environment (it must exist); an nginx on the machine (PATH, then
/usr/sbin/nginx); else Debian's `nginx` package (apt-get) when running as root on Debian. The
path found is written to .dev/nginx, which the test reads. A missing nginx stops `make test`;
the test is never skipped.

Usage: python scripts/nginx.py ensure
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATH_FILE = ROOT / ".dev" / "nginx"


def say(message: str) -> None:
    print(f"[nginx] {message}", flush=True)


def on_machine() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None


def install() -> str:
    if not (os.geteuid() == 0 and Path("/etc/debian_version").exists() and shutil.which("apt-get")):
        raise SystemExit(
            "\n*** nginx is missing and cannot be installed here (needs root on Debian): "
            "install it, or set NGINX_PATH.\n"
        )
    say("installing Debian's nginx (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=False, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "nginx"], check=True, env=env,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    found = on_machine()
    if not found:
        raise SystemExit(
            "\n*** nginx could not be installed; the X-Accel-Redirect test needs it.\n"
        )
    return found


def ensure() -> str:
    explicit = os.environ.get("NGINX_PATH")
    if explicit:
        if not Path(explicit).exists():
            raise SystemExit(f"\n*** NGINX_PATH={explicit} does not exist.\n")
        found = explicit
    else:
        found = on_machine() or install()
    PATH_FILE.parent.mkdir(exist_ok=True)
    PATH_FILE.write_text(found + "\n")
    say(f"nginx: {found}")
    return found


if __name__ == "__main__":
    if sys.argv[1:] != ["ensure"]:
        raise SystemExit("usage: python scripts/nginx.py ensure")
    ensure()
