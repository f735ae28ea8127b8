"""CSV / TSV / JSONL → validated rows, or `ImportRejected(line, column, reason)`. Pure: no Django.

Line numbers are physical lines of the file (the header is line 1), so a message points at the line a
person sees in an editor, even when a quoted CSV field spans several lines.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from enum import StrEnum

from eduplatform.errors import DomainError

from .redaction import DEFAULT_STUDENT_ID_PATTERN, pii_candidates

ROW_NUMBER = "__row_number__"  # --id-col without a column name: the file's line number is the id
SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "dev": "validation", "val": "validation", "valid": "validation", "validation": "validation",
    "test": "test", "": "",
}
FORMATS = ("csv", "tsv", "jsonl")
# A cut looks this far back from the limit for a space, so that it does not end inside a word; a run of
# text without one (a long token) is cut inside it, but never inside a piece of PII.
WORD_BOUNDARY_WINDOW = 100


class LongTexts(StrEnum):
    """What an import does with a text over the limit (FEEDBACK_MAX_CHARS): the importer's choice, per import."""

    REFUSE = "refuse"  # nothing is imported; the message names the line
    CUT = "cut"  # the text is cut at the limit and the item marked (Feedback.text_was_cut)


class ImportRejected(DomainError):
    def __init__(self, line: int | None, column: str | None, reason: str) -> None:
        self.line, self.column, self.reason = line, column, reason
        where = []
        if line is not None:
            where.append(f"line {line}")
        if column:
            where.append(f'column "{column}"')
        super().__init__(f"{', '.join(where)}: {reason}" if where else reason)


class TextTooLong(ImportRejected):
    """A text over the limit under `LongTexts.REFUSE`. Each door adds how to choose `cut` there (`advice`);
    `index` is the item's position in an API request."""

    def __init__(
        self, line: int | None, column: str | None, *, length: int, limit: int, index: int | None = None
    ) -> None:
        self.length, self.limit, self.index = length, limit, index
        super().__init__(
            line, column, f"the text has {length:,} characters; the limit is {limit:,} (FEEDBACK_MAX_CHARS)"
        )

    @staticmethod
    def advice(how_to_cut: str) -> str:
        return f"{how_to_cut} to cut such texts at the limit, or raise FEEDBACK_MAX_CHARS."


@dataclass(frozen=True)
class ImportOptions:
    text_col: str = "text"
    module_col: str | None = None
    submitted_col: str | None = None
    id_col: str | None = None
    label_col: str | None = None
    label_sep: str | None = None
    split_col: str | None = None
    max_chars: int = 10_000  # the import service sets FEEDBACK_MAX_CHARS
    long_texts: LongTexts = LongTexts.REFUSE
    student_id_pattern: str = DEFAULT_STUDENT_ID_PATTERN  # the service sets PII_STUDENT_ID_PATTERN (cuts avoid PII)


@dataclass
class ImportRow:
    line: int
    text: str
    module: str | None = None
    submitted_at: datetime | None = None
    external_id: str | None = None
    labels: list[str] = field(default_factory=list)
    split: str = ""
    text_was_cut: bool = False


def detect_format(filename: str) -> str:
    lower = filename.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if lower.endswith((".tsv", ".tab")):
        return "tsv"
    if lower.endswith(".csv"):
        return "csv"
    raise ImportRejected(None, None, f"cannot tell the format of {filename!r}: use .csv, .tsv or .jsonl")


def decode(data: bytes, fmt: str) -> str:
    """UTF-8 with or without BOM; a bad byte is reported by line (and column where it can be found)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = _column_of_bad_byte(data, exc.start, fmt)
        raise ImportRejected(
            line, column, f"byte 0x{data[exc.start]:02x} is not valid UTF-8; save the file as UTF-8 and retry"
        ) from None


def _column_of_bad_byte(data: bytes, offset: int, fmt: str) -> str | None:
    if fmt == "jsonl":
        return None
    delimiter = "\t" if fmt == "tsv" else ","
    lines = data.split(b"\n")
    header = next(csv.reader([lines[0].decode("utf-8-sig", "replace")], delimiter=delimiter), [])
    line_start = data.rfind(b"\n", 0, offset) + 1
    line_end = data.find(b"\n", offset)
    line_text = data[line_start : line_end if line_end >= 0 else None].decode("utf-8", "replace")
    for index, value in enumerate(next(csv.reader([line_text], delimiter=delimiter), [])):
        if "\ufffd" in value and index < len(header):
            return header[index]
    return None


def parse_rows(data: bytes, fmt: str, options: ImportOptions, *, tz: tzinfo) -> list[ImportRow]:
    """Every row of the file, validated; the first bad row raises ImportRejected."""
    if fmt not in FORMATS:
        raise ImportRejected(None, None, f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    text = decode(data, fmt)
    records = _jsonl_records(text) if fmt == "jsonl" else _delimited_records(text, fmt, options)
    rows = [_validate(line, record, options, tz) for line, record in records]
    if not rows:
        raise ImportRejected(None, None, "the file has no data rows")
    seen: dict[str, int] = {}
    for row in rows:
        if row.external_id is None:
            continue
        if row.external_id in seen:
            raise ImportRejected(
                row.line, options.id_col, f"id {row.external_id!r} repeats line {seen[row.external_id]}"
            )
        seen[row.external_id] = row.line
    return rows


def _delimited_records(text: str, fmt: str, options: ImportOptions) -> Iterator[tuple[int, dict]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ",", strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportRejected(None, None, "the file is empty") from None
    except csv.Error as exc:
        raise ImportRejected(1, None, f"malformed header: {exc}") from None
    _require_columns(header, options)
    previous_end = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportRejected(previous_end + 1, None, f"malformed {fmt.upper()}: {exc}") from None
        line = previous_end + 1
        previous_end = reader.line_num
        if not values or values == [""]:
            continue  # blank line
        if len(values) != len(header):
            raise ImportRejected(line, None, f"expected {len(header)} fields as in the header, found {len(values)}")
        yield line, dict(zip(header, values, strict=True))


def _jsonl_records(text: str) -> Iterator[tuple[int, dict]]:
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ImportRejected(line_no, None, f"invalid JSON: {exc.msg} at character {exc.colno}") from None
        if not isinstance(record, dict):
            raise ImportRejected(line_no, None, "each line must be a JSON object")
        yield line_no, record


def _require_columns(header: list[str], options: ImportOptions) -> None:
    for name in _named_columns(options):
        if name not in header:
            raise ImportRejected(1, name, f"no such column; the header has: {', '.join(header)}")


def _named_columns(options: ImportOptions) -> list[str]:
    cols = [options.text_col, options.module_col, options.submitted_col, options.label_col, options.split_col]
    if options.id_col != ROW_NUMBER:
        cols.append(options.id_col)
    return [c for c in cols if c]


def _field(record: dict, column: str | None, line: int, *, required: bool = False) -> str | None:
    if not column:
        return None
    if column not in record:
        if required:
            raise ImportRejected(line, column, "missing")
        return None
    value = record[column]
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        raise ImportRejected(line, column, "expected a text value, found a JSON list or object")
    return str(value).strip()


def _validate(line: int, record: dict, options: ImportOptions, tz: tzinfo) -> ImportRow:
    text = _field(record, options.text_col, line, required=True) or ""
    if not text:
        raise ImportRejected(line, options.text_col, "the text is empty")
    text, was_cut = fit_text(
        text, limit=options.max_chars, long_texts=options.long_texts, student_id_pattern=options.student_id_pattern,
        line=line, column=options.text_col,
    )
    row = ImportRow(line=line, text=text, text_was_cut=was_cut)
    row.module = _field(record, options.module_col, line) or None
    if options.id_col == ROW_NUMBER:
        row.external_id = str(line)
    else:
        row.external_id = _field(record, options.id_col, line) or None
    submitted = _field(record, options.submitted_col, line)
    if submitted:
        row.submitted_at = parse_datetime(submitted, tz, line=line, column=options.submitted_col)
    row.labels = _labels(record, options, line)
    split = (_field(record, options.split_col, line) or "").lower()
    if split not in SPLIT_ALIASES:
        raise ImportRejected(line, options.split_col, f"{split!r} is not a split (train, validation/dev, test)")
    row.split = SPLIT_ALIASES[split]
    return row


def fit_text(
    text: str, *, limit: int, long_texts: LongTexts, student_id_pattern: str = DEFAULT_STUDENT_ID_PATTERN,
    line: int | None = None, column: str | None = None, index: int | None = None,
) -> tuple[str, bool]:
    """The one rule for texts over the limit, for every door (files and the API): `text` as it is when it
    fits; cut (and True) under `LongTexts.CUT`; TextTooLong under `LongTexts.REFUSE`.

    The raw text is cut, before redaction, so redaction runs on exactly what is kept, and the cut never
    falls inside a piece of PII (`cut_text`): no half of an e-mail or phone number can escape it."""
    if len(text) <= limit:
        return text, False
    if LongTexts(long_texts) == LongTexts.REFUSE:
        raise TextTooLong(line, column, length=len(text), limit=limit, index=index)
    kept = cut_text(text, limit, student_id_pattern=student_id_pattern)
    if not kept:
        raise ImportRejected(
            line, column, f"the text has {len(text):,} characters and its first {limit:,} are one e-mail, "
            "phone number, link or id, which cannot be cut without leaving half of it unredacted; shorten it",
        )
    return kept, True


def cut_text(text: str, limit: int, *, student_id_pattern: str = DEFAULT_STUDENT_ID_PATTERN) -> str:
    """At most `limit` characters of `text`: at the last space within WORD_BOUNDARY_WINDOW of the limit, else
    at the limit, and in either case before any PII match that would straddle the cut. "" when the only
    such place is the start."""
    # inside[p]: a cut at p falls strictly inside some PII match (a difference array, linear in the text).
    inside = [0] * (limit + 2)
    for start, end in pii_candidates(text, student_id_pattern=student_id_pattern):
        if start < limit and end > start + 1:
            inside[start + 1] += 1
            inside[min(end, limit + 1)] -= 1
    depth, allowed = 0, []
    for p in range(limit + 1):
        depth += inside[p]
        allowed.append(depth == 0)
    for p in range(limit, max(0, limit - WORD_BOUNDARY_WINDOW) - 1, -1):
        if p > 0 and allowed[p] and (text[p].isspace() or text[p - 1].isspace()):
            return text[:p].rstrip()
    for p in range(limit, 0, -1):
        if allowed[p]:
            return text[:p].rstrip()
    return ""


def _labels(record: dict, options: ImportOptions, line: int) -> list[str]:
    if not options.label_col:
        return []
    value = record.get(options.label_col)
    if isinstance(value, list):  # JSONL may carry labels as a list
        labels = [str(v).strip() for v in value]
    else:
        raw = _field(record, options.label_col, line) or ""
        labels = raw.split(options.label_sep) if options.label_sep else [raw]
    labels = [label.strip() for label in labels if label.strip()]
    if len(set(labels)) != len(labels):
        raise ImportRejected(line, options.label_col, f"a label is repeated: {', '.join(labels)}")
    return labels


def parse_datetime(value: str, tz: tzinfo, *, line: int | None = None, column: str | None = None) -> datetime:
    """ISO 8601 date or date-time; a naive value is read in the site's time zone."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value), time())
        except ValueError:
            raise ImportRejected(
                line, column, f"{value!r} is not a date; use ISO 8601 such as 2026-03-14 or 2026-03-14T09:30"
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed
