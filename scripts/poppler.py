"""Find or install poppler's `pdftoppm`, which the report tests use to turn a PDF page into a PNG
(tests/reports). Order: one on the PATH; else Debian's `poppler-utils` when running as root on
Debian; else stop with a message saying what to install. A missing pdftoppm stops `make test`;
the test is never skipped.

Usage: python scripts/poppler.py ensure
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def say(message: str) -> None:
    print(f"[poppler] {message}", flush=True)


def ensure() -> str:
    found = shutil.which("pdftoppm")
    if not found and os.geteuid() == 0 and Path("/etc/debian_version").exists():
        say("installing Debian's poppler-utils (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        subprocess.run(["apt-get", "install", "-y", "-q", "poppler-utils"], check=True, env=env,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        found = shutil.which("pdftoppm")
    if not found:
        raise SystemExit(
            "\n*** pdftoppm not found: install poppler (Debian/Ubuntu: poppler-utils, "
            "macOS: brew install poppler); the report tests need it.\n"
        )
    say(f"pdftoppm: {found}")
    return found


if __name__ == "__main__":
    if sys.argv[1:] != ["ensure"]:
        raise SystemExit(__doc__)
    ensure()
