"""Reading and writing files of rows, streamed: CSV line by line, XLSX through openpyxl's
read-only (and write-only) mode, JSON (a list of objects; bounded, it is parsed whole). No
Django here: what it reads is bytes, what it yields is (row number, {column: text}).

Every refusal is a `FileRefused` whose message is written for the person who sent the file:
it says what is wrong and what to do, and nothing has been written when it is raised."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

FORMATS = ("csv", "xlsx", "json")
CONTENT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
# A spreadsheet treats a cell starting with one of these as a formula (or as the start of one:
# tab, CR (and LF, which XLSX makes of a CR) are how `=` hides behind whitespace). OWASP: a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
Row = dict[str, str]


class FileRefused(ValueError):
    """The file as a whole cannot be read as rows; the message says why, for people."""


@dataclass(frozen=True)
class Limits:
    max_rows: int
    # XLSX: the most the zip may expand to, and the largest expansion ratio of any member.
    max_unzipped_bytes: int
    max_zip_ratio: int = 100


def cell_escape(value: Any) -> Any:
    """A cell as a spreadsheet may show it without running it: text starting with = + - @,
    tab or CR (repeated or not: `==1+1` too) gets a leading quote. Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def cell_unescape(value: str) -> str:
    """The reverse, on import: a file we exported comes back as it went out."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def cell_text(value: Any) -> str:
    """One exported value as text (CSV, XLSX): times in ISO 8601, None as empty."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# --- Reading ---------------------------------------------------------------------------------


def format_sniff(head: bytes, declared: str) -> None:
    """Refuse a file whose extension lies about its content (checked on its first bytes)."""
    is_zip = head.startswith(b"PK\x03\x04")
    if declared == "xlsx":
        if not is_zip:
            raise FileRefused("This file is named .xlsx but is not an Excel workbook.")
        return
    if is_zip or b"\x00" in head.replace(b"\xff\xfe", b"").replace(b"\xfe\xff", b"")[:4096]:
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise FileRefused(
                "This file is in UTF-16. Save it as UTF-8 (in Excel: “CSV UTF-8”) and upload it "
                "again."
            )
        raise FileRefused(f"This file is named .{declared} but is a binary file, not text.")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRefused("This file is in UTF-16. Save it as UTF-8 and upload it again.")
    if declared == "json" and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        raise FileRefused("A JSON file must be a list of objects: [{…}, {…}].")


def rows_read(
    handle: IO[bytes], fmt: str, *, columns: Sequence[str], required: Sequence[str],
    limits: Limits, ignored: Sequence[str] = (),
) -> Iterator[tuple[int, Row]]:  # fmt: skip
    """Each data row as (its row number in the file, {column: text}), the header checked first
    against `columns` (missing required ones or unknown ones refuse the file; `ignored` ones
    are accepted and left out of the rows). Row numbers are those a person sees: the header is
    row 1."""
    if fmt not in FORMATS:
        raise FileRefused(f"Unknown format “{fmt}”: use CSV, XLSX or JSON.")
    head = handle.read(8192)
    handle.seek(0)
    if not head:
        raise FileRefused("The file is empty.")
    format_sniff(head, fmt)
    reader = {"csv": _csv_rows, "xlsx": _xlsx_rows, "json": _json_rows}[fmt]
    count = 0
    for number, row in reader(handle, _Columns(columns, ignored), required, limits):
        for name in ignored:
            row.pop(name, None)
        count += 1
        if count > limits.max_rows:
            raise FileRefused(
                f"The file has more than {limits.max_rows:,} rows, the most one import takes. "
                "Split it into smaller files."
            )
        yield number, row
    if count == 0:
        raise FileRefused("The file has a header but no rows.")


class _Columns(list[str]):
    """The columns a file may have: the expected ones (named in messages) and ignored ones."""

    def __init__(self, expected: Sequence[str], ignored: Sequence[str]) -> None:
        super().__init__([*expected, *ignored])
        self.expected = list(expected)


def _header_check(header: list[str], columns: Sequence[str], required: Sequence[str]) -> list[str]:
    header = [h.strip() for h in header]
    while header and header[-1] == "":  # trailing empty cells (spreadsheets)
        header.pop()
    if len(header) == 1:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if sep in header[0]:
                raise FileRefused(
                    f"The columns are separated by {name}; this import reads commas. Save the "
                    "file as CSV with commas, or upload it as XLSX."
                )
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise FileRefused(f"The column “{name}” appears twice in the header.")
        seen.add(name)
    missing = [c for c in required if c not in seen]
    extra = [c for c in header if c not in columns]
    problems = []
    if missing:
        problems.append(f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    if extra:
        problems.append(f"unknown column{'s' if len(extra) > 1 else ''}: {', '.join(extra)}")
    if problems:
        raise FileRefused(
            f"The header does not fit ({'; '.join(problems)}). Expected: "
            f"{', '.join(getattr(columns, 'expected', columns))}."
        )
    return header


def _csv_rows(
    handle: IO[bytes], columns: Sequence[str], required: Sequence[str], limits: Limits
) -> Iterator[tuple[int, Row]]:
    text = _utf8_lines(handle)
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            raise FileRefused("The file is empty.")
        names = _header_check(header, columns, required)
        for values in reader:
            if not any(v.strip() for v in values):
                continue  # blank lines
            number = reader.line_num
            if len(values) > len(names) and any(v.strip() for v in values[len(names) :]):
                raise FileRefused(
                    f"Row {number} has {len(values)} values for {len(names)} columns (a comma "
                    "inside a value must be quoted)."
                )
            yield (
                number,
                {name: cell_unescape(v.strip()) for name, v in zip(names, values, strict=False)},
            )
    except csv.Error as exc:
        raise FileRefused(f"Not a readable CSV file (row {reader.line_num}): {exc}.") from exc


def _utf8_lines(handle: IO[bytes]) -> Iterator[str]:
    """The file's lines as text: UTF-8, a UTF-8 byte order mark dropped; anything else refused
    with the line it fails on."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    line_no = 1
    pending = ""
    while True:
        chunk = handle.read(256 * 1024)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            where = line_no + (pending + exc.object[: exc.start].decode("utf-8", "replace")).count(
                "\n"
            )
            raise FileRefused(
                f"The file is not UTF-8 (line {where}). Save it as UTF-8 (in Excel: “CSV UTF-8”) "
                "and upload it again."
            ) from exc
        pending += text
        lines = pending.splitlines(keepends=True)
        pending = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
        for line in lines:
            line_no += 1
            yield line
        if not chunk:
            if pending:
                yield pending
            return


def xlsx_bomb_check(handle: IO[bytes], limits: Limits) -> None:
    """Refuse a workbook that would expand past the limit, or any member compressed more than
    a real sheet ever is (a zip bomb), from the zip's directory: nothing is expanded."""
    try:
        archive = zipfile.ZipFile(handle)
    except zipfile.BadZipFile as exc:
        raise FileRefused("This .xlsx file is damaged (not a readable zip).") from exc
    total = 0
    for info in archive.infolist():
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_zip_ratio and info.file_size > 1024 * 1024:
            raise FileRefused(
                "This workbook expands far more than a spreadsheet does (a “zip bomb”): refused."
            )
    if total > limits.max_unzipped_bytes:
        raise FileRefused(
            f"This workbook expands to {total // (1024 * 1024):,} MB, more than the "
            f"{limits.max_unzipped_bytes // (1024 * 1024):,} MB allowed."
        )
    handle.seek(0)


def _xlsx_rows(
    handle: IO[bytes], columns: Sequence[str], required: Sequence[str], limits: Limits
) -> Iterator[tuple[int, Row]]:
    from openpyxl import load_workbook

    xlsx_bomb_check(handle, limits)
    try:
        book = load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise FileRefused(f"This .xlsx file cannot be read: {exc}.") from exc
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise FileRefused("The workbook's first sheet is empty.")
        names = _header_check([_xlsx_text(v) for v in header], columns, required)
        for number, values in enumerate(rows, start=2):
            texts = [_xlsx_text(v) for v in values]
            if not any(texts):
                continue
            if any(texts[len(names) :]):
                raise FileRefused(f"Row {number} has values beyond the header's columns.")
            yield number, {name: cell_unescape(t) for name, t in zip(names, texts, strict=False)}
    finally:
        book.close()


def _xlsx_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _json_rows(
    handle: IO[bytes], columns: Sequence[str], required: Sequence[str], limits: Limits
) -> Iterator[tuple[int, Row]]:
    try:
        data = json.loads(handle.read().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise FileRefused("The file is not UTF-8. Save it as UTF-8 and upload it again.") from exc
    except ValueError as exc:
        raise FileRefused(f"Not valid JSON: {exc}.") from exc
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise FileRefused("A JSON file must be a list of objects: [{…}, {…}].")
    if not data:
        raise FileRefused("The file has no rows (an empty list).")
    keys: list[str] = []
    for item in data:
        keys += [k for k in item if k not in keys]
    _header_check(keys, columns, required)
    for index, item in enumerate(data):
        row = {}
        for key, value in item.items():
            if isinstance(value, dict | list):
                row[key] = json.dumps(value)
            else:
                row[key] = cell_unescape(cell_text(value).strip())
        yield index + 2, row  # as if the header were row 1, like the other formats


# --- Writing ---------------------------------------------------------------------------------


def rows_write(
    out: IO[bytes], fmt: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Write `rows` under `header` to `out` (binary), streamed; returns the number of rows.
    CSV and XLSX cells are formula-escaped; JSON keeps values as they are (a machine reads it)."""
    if fmt == "csv":
        return _csv_write(out, header, rows)
    if fmt == "json":
        return _json_write(out, header, rows)
    if fmt == "xlsx":
        return _xlsx_write(out, header, rows)
    raise ValueError(f"unknown format {fmt!r}")


def _csv_write(out: IO[bytes], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([cell_escape(cell_text(v)) for v in row])
        count += 1
    text.flush()
    text.detach()
    return count


def _json_write(out: IO[bytes], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    out.write(b"[")
    count = 0
    for row in rows:
        item = {name: _json_value(v) for name, v in zip(header, row, strict=True)}
        out.write((b",\n" if count else b"\n") + json.dumps(item, ensure_ascii=False).encode())
        count += 1
    out.write(b"\n]\n")
    return count


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _xlsx_write(out: IO[bytes], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("data")
    sheet.append(list(header))
    count = 0
    for row in rows:
        # Text cells only: openpyxl would take a string starting with "=" for a formula.
        sheet.append([cell_escape(cell_text(v)) for v in row])
        count += 1
    book.save(out)
    return count
