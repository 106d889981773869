"""The readers and writers alone (no database): streaming, refusals, formula escaping."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from dataport.formats import FileRefused, Limits, cell_escape, rows_read, rows_write

COLUMNS = ["email", "name", "role"]
LIMITS = Limits(max_rows=1000, max_unzipped_bytes=50 * 1024 * 1024)


def read(
    data: bytes, fmt: str = "csv", limits: Limits = LIMITS
) -> list[tuple[int, dict[str, str]]]:
    return list(
        rows_read(
            io.BytesIO(data),
            fmt,
            columns=COLUMNS,
            required=["email"],
            limits=limits,
            ignored=["errors"],
        )
    )


def refusal(data: bytes, fmt: str = "csv", limits: Limits = LIMITS) -> str:
    with pytest.raises(FileRefused) as caught:
        read(data, fmt, limits)
    return str(caught.value)


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_it_reads_csv_with_a_utf8_bom_and_numbers_rows_as_people_see_them() -> None:
    data = '\ufeffemail,name\nA@x.org,Ann Émile\n\nb@x.org,"Bo, Jr"\n'.encode()
    assert read(data) == [(2, {"email": "A@x.org", "name": "Ann Émile"}),
                          (4, {"email": "b@x.org", "name": "Bo, Jr"})]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"email,name\n", "no rows"),
        ("email,name\nann@x.org,Andr\xe9\n".encode("latin-1"), "not UTF-8 (line 2)"),
        ("email,name\nann@x.org,A\n".encode("utf-16"), "UTF-16"),
        (b"email;name;role\na@x.org;A;member\n", "semicolons"),
        (b"name,role\nA,member\n", "missing column: email"),
        (b"email,name,salary\na@x.org,A,1\n", "unknown column: salary"),
        (b"email,email\na@x.org,b@x.org\n", "appears twice"),
        (b"email,name\na@x.org,A,extra\n", "Row 2 has 3 values"),
        (b"PK\x03\x04rest of a zip", "binary file"),
    ],
)
def test_it_refuses_bad_csv_with_a_clear_message(data: bytes, words: str) -> None:
    assert words in refusal(data)


def test_it_refuses_more_rows_than_the_limit() -> None:
    data = b"email\n" + b"".join(b"u%d@x.org\n" % i for i in range(11))
    assert "more than 10 rows" in refusal(
        data, limits=Limits(max_rows=10, max_unzipped_bytes=10**6)
    )


def test_it_reads_xlsx_and_refuses_a_text_file_named_xlsx() -> None:
    data = xlsx([["email", "role"], ["a@x.org", "owner"], [None, None], ["b@x.org", None]])
    assert read(data, "xlsx") == [(2, {"email": "a@x.org", "role": "owner"}),
                                  (4, {"email": "b@x.org", "role": ""})]  # fmt: skip
    assert "not an Excel workbook" in refusal(b"email\na@x.org\n", "xlsx")


def test_it_refuses_an_xlsx_zip_bomb_before_expanding_it() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("[Content_Types].xml", "<x/>")
        bomb.writestr("xl/worksheets/sheet1.xml", b"\0" * (20 * 1024 * 1024))
    assert "zip bomb" in refusal(out.getvalue(), "xlsx")
    small = Limits(max_rows=10, max_unzipped_bytes=1024)
    assert "expands to" in refusal(xlsx([["email"], ["a@x.org"]]), "xlsx", small)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"email": "a@x.org"}', "list of objects"),
        (b'[{"email": "a@x.org"}, 3]', "list of objects"),
        (b"[]", "no rows"),
        (b'[{"email": "a@x.org"', "Not valid JSON"),
        (b'[{"email": "a@x.org", "shoe": 4}]', "unknown column: shoe"),
    ],
)
def test_it_refuses_json_that_is_not_a_list_of_objects(data: bytes, words: str) -> None:
    assert words in refusal(data, "json")


@pytest.mark.parametrize(
    "payload", ["==1+1", "=1+1", "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "\t=1", "\r=1", "++1"]
)
def test_exports_escape_every_formula_start_and_imports_take_it_back(payload: str) -> None:
    assert cell_escape(payload) == "'" + payload
    for fmt in ("csv", "xlsx"):
        # XML (inside XLSX) reads a CR back as a newline: still text, still escaped.
        written = payload if fmt == "csv" else payload.replace("\r", "\n")
        out = io.BytesIO()
        rows_write(out, fmt, ["email", "name"], [["a@x.org", payload]])
        if fmt == "csv":
            cell = list(csv.reader(io.StringIO(out.getvalue().decode())))[1][1]
        else:
            sheet = load_workbook(io.BytesIO(out.getvalue())).worksheets[0]
            value = sheet.cell(row=2, column=2)
            assert value.data_type == "s"  # text, never a formula
            cell = str(value.value)
        assert cell == "'" + written
        assert read(out.getvalue(), fmt)[0][1]["name"] == written
    out = io.BytesIO()
    rows_write(out, "json", ["email", "name"], [["a@x.org", payload]])
    assert json.loads(out.getvalue()) == [{"email": "a@x.org", "name": payload}]


def test_the_failed_rows_errors_column_reads_back_as_if_absent() -> None:
    assert read(b"email,errors\na@x.org,email: bad\n") == [(2, {"email": "a@x.org"})]
    assert refusal(b"email,shoe\na@x.org,4\n").endswith("Expected: email, name, role.")
