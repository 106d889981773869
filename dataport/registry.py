"""The resources staff and owners move in and out, found in the apps themselves.

**The extension point.** A tenant app adds a module `<app>/resources.py` with a list
`RESOURCES` of django-import-export `Resource` classes that carry:

    resource_name = "invoices"              # in URLs and file names
    resource_title = "Invoices"
    def export_rows(self, *, tenant): ...   # what to export, filtered by that tenant

and, to be importable too (`importable = True`):

    import_key = "number"                   # the column naming a row (unique in a file)
    import_key_casefold = False             # True: "A@x" and "a@x" are the same key
    import_required = ("number", "amount")  # columns a file must have
    def import_end(self, *, tenant, dry_run) -> str: ...  # optional: "" or why it fails
    def import_chunk(self, *, tenant, rows, dry_run) -> list[RowResult]: ...

`import_chunk` returns a `saas.rowresult.RowResult` per row. It gets up to CHUNK_ROWS rows (row number, {column: text}) with duplicate keys
already refused, checks them and writes the valid ones (the engine runs the whole import in
one transaction and rolls it back for a dry run or an all-or-nothing failure). That is all:
the resource appears on the tenant admin's Import and export page and in the tenant data
export. The apps below `dataport` cannot import it, hence a protocol and not a base class.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from typing import Any, Protocol

from django.apps import apps

from saas.rowresult import RowResult

CHUNK_ROWS = 2000


class DataResource(Protocol):
    resource_name: str
    resource_title: str
    importable: bool

    def get_export_headers(self, selected_fields: Any = None) -> list[str]: ...
    def export_resource(self, instance: Any, selected_fields: Any = None, **kwargs: Any) -> list[Any]: ...  # fmt: skip
    def export_rows(self, *, tenant: Any) -> Any: ...


class ImportableResource(DataResource, Protocol):
    import_key: str
    import_key_casefold: bool
    import_required: Sequence[str]

    def import_chunk(self, *, tenant: Any, rows: list[tuple[int, dict[str, str]]],
                     dry_run: bool) -> list[RowResult]: ...  # fmt: skip


@functools.cache
def _classes() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.resources")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.resources":
                raise
            continue
        for cls in getattr(module, "RESOURCES", ()):
            if cls.resource_name in found:
                raise RuntimeError(f"two resources are named {cls.resource_name!r}")
            found[cls.resource_name] = cls
    return found


def resources_all() -> list[DataResource]:
    """Importable ones first, then by title."""
    classes = sorted(_classes().values(),
                     key=lambda c: (not getattr(c, "importable", False), c.resource_title))  # fmt: skip
    return [cls() for cls in classes]


def resource_get(name: str) -> DataResource:
    """The resource called `name`; LookupError for anything else (a URL typed by hand)."""
    cls = _classes().get(name)
    if cls is None:
        raise LookupError(name)
    resource: DataResource = cls()
    return resource


def importable_get(name: str) -> ImportableResource:
    resource = resource_get(name)
    if not getattr(resource, "importable", False):
        raise LookupError(name)
    return resource  # type: ignore[return-value]
