"""What a resource's import says about one row (dataport/registry.py describes the protocol).
Here, at the bottom, because the resources live in apps below dataport, which reads these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("new", "changed", "unchanged", "error")


@dataclass
class RowResult:
    row: int
    action: str  # one of ACTIONS
    key: str = ""
    changes: dict[str, list[Any]] = field(default_factory=dict)  # column: [old, new]
    errors: list[tuple[str, str]] = field(default_factory=list)  # (column, message)
