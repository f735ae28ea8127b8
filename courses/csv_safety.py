"""CSV cells that a spreadsheet cannot run: every export writes through `safe_writer`.

Excel, LibreOffice and Google Sheets treat a cell that starts with = + - @ (or a tab / carriage return
followed by one) as a formula, so a module title or a student's comment such as `=HYPERLINK(...)` would
run when staff open the export (OWASP "CSV Injection"). Such text cells get a leading apostrophe, the
OWASP advice: spreadsheets show the text as typed, and a script reading the CSV sees one extra character.
Only str cells are touched: numbers we write ourselves (a negative difference in points) stay numeric.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """`value` with a leading apostrophe when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class SafeWriter:
    """A csv.writer whose every str cell goes through safe_cell()."""

    def __init__(self, out: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_writer(out: Any, **kwargs: Any) -> SafeWriter:
    return SafeWriter(out, **kwargs)
