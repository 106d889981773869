"""Values shown on admin pages as people read them, not as JSON: key/value tables, nested
where the value is; everything escaped (format_html)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

NOTHING = "—"


def value_html(value: Any) -> SafeString | str:
    """A JSON value: a mapping as a table, a list of plain values joined, a longer or mixed
    list as a numbered table, text as it is, the rest as JSON."""
    if isinstance(value, dict):
        return kv_table(value.items()) if value else NOTHING
    if isinstance(value, list):
        if not value:
            return NOTHING
        if all(not isinstance(item, dict | list) for item in value) and len(value) <= 10:
            return format_html_join(", ", "{}", ((value_text(item),) for item in value))
        return kv_table((f"#{n}", item) for n, item in enumerate(value, 1))
    return value_text(value)


def value_text(value: Any) -> str:
    if value is None:
        return NOTHING
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value)


def kv_table(rows: Iterable[tuple[Any, Any]]) -> SafeString:
    """<table> of key → value rows (a value may be a table itself)."""
    return format_html(
        '<table class="kv-table">{}</table>',
        format_html_join(
            "",
            '<tr><th scope="row">{}</th><td>{}</td></tr>',
            ((key, value_html(value)) for key, value in rows),
        ),
    )
