"""The one CSV writer of the service: the API's report export and the dashboard's tables both write through it.

A spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, a tab or a
carriage return) as a formula: a pilot named ``=HYPERLINK(…)`` in an export would be a link, or worse, on the
province's machine. Such text gets a leading apostrophe, which spreadsheets read as "this is text" and the
report import removes again. Numbers are written as numbers: ``-3.5`` is a negative variance, not a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Container, Iterable, Sequence
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


def guard_text(value: str) -> str:
    """Text a spreadsheet would run as a formula, made inert with a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_START) else value


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]], *,
              text_columns: Container[int] | None = None) -> bytes:
    """``header`` and ``rows`` as CSV, UTF-8 with a BOM (so that Excel reads the Chinese).

    ``None`` is an empty cell. Every text cell is guarded, or, with ``text_columns``, the text cells of those
    columns only (the report sheet guards its free-text columns, whose import removes the apostrophe).
    """
    output = io.StringIO()
    writer = csv.writer(output)
    writer.writerow(header)
    for row in rows:
        line = []
        for index, value in enumerate(row):
            if value is None:
                value = ""
            elif isinstance(value, str):
                if text_columns is None or index in text_columns:
                    value = guard_text(value)
            else:
                value = str(value)
            line.append(value)
        writer.writerow(line)
    return output.getvalue().encode("utf-8-sig")
