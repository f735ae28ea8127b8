"""PII detectors and `redact_text()`: pure functions, no Django imports.

Each match is replaced by a typed placeholder ([EMAIL], [URL], [PHONE], [STUDENT_ID], [HANDLE]) so the
text stays readable for staff and trainable for models. Detectors run in an order chosen so a longer,
more specific match wins: e-mails before handles (`a@b.org` is not a handle), URLs before e-mails
(`https://x.org/~a@b` is one URL), student ids before phone numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_STUDENT_ID_PATTERN = r"\b[A-Za-z]{0,2}\d{7,10}\b"

_URL = re.compile(
    r"""(?xi)
    \b(?:https?://|ftp://|www\.)[^\s<>"']+          # scheme or www. prefix
    | \b(?:[a-z0-9-]+\.)+(?:com|org|net|edu|gov|io|ac\.[a-z]{2}|co\.[a-z]{2}|[a-z]{2})/[^\s<>"']*  # bare host/path
    """
)
# Also the obfuscated forms students use: "jane (at) uni (dot) edu", "jane[at]uni.edu".
_EMAIL = re.compile(
    r"(?i)(?<![\w.%+-])[\w.%+-]+(?:\s*(?:@|\[at\]|\(at\))\s*)[\w-]+"
    r"(?:\s*(?:\.|\[dot\]|\(dot\))\s*[\w-]+)+\b"
)
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?\b")
# Phone numbers: an optional +country code, then 7-15 digits in groups separated by spaces, dots,
# dashes or parentheses. A lone run of digits is left to the student-id pattern.
_PHONE = re.compile(
    r"""(?x)
    (?<![\w+])
    (?:\+\d{1,3}[\s.-]?)?
    (?:\(\d{1,4}\)[\s.-]?\d{2,4}(?:[\s.-]\d{2,4}){1,4}
       | \d{2,4}(?:[\s.-]\d{2,4}){2,4})
    (?!\w)
    """
)
_DATE = re.compile(r"^(?:\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4})$")
_TRAILING_PUNCT = ".,;:!?)]}'\""


@dataclass(frozen=True)
class Redaction:
    kind: str
    start: int
    end: int
    text: str


def _trim_url(match: re.Match[str]) -> tuple[int, int]:
    start, end = match.span()
    while end > start and match.string[end - 1] in _TRAILING_PUNCT:
        end -= 1
    return start, end


def find_pii(text: str, *, student_id_pattern: str = DEFAULT_STUDENT_ID_PATTERN) -> list[Redaction]:
    """All non-overlapping PII spans in `text`, earliest detector winning on overlap."""
    detectors: list[tuple[str, re.Pattern[str]]] = [
        ("URL", _URL),
        ("EMAIL", _EMAIL),
        ("HANDLE", _HANDLE),
        ("STUDENT_ID", re.compile(student_id_pattern)),
        ("PHONE", _PHONE),
    ]
    taken: list[Redaction] = []

    def free(start: int, end: int) -> bool:
        return all(end <= r.start or start >= r.end for r in taken)

    for kind, pattern in detectors:
        for match in pattern.finditer(text):
            start, end = _trim_url(match) if kind == "URL" else match.span()
            if kind == "PHONE" and (sum(c.isdigit() for c in text[start:end]) < 7 or _DATE.match(text[start:end])):
                continue  # dates like 2026-03-14 or scores like 10 - 20 - 30 are not phone numbers
            if end > start and free(start, end):
                taken.append(Redaction(kind, start, end, text[start:end]))
    return sorted(taken, key=lambda r: r.start)


def redact_text(text: str, *, student_id_pattern: str = DEFAULT_STUDENT_ID_PATTERN) -> str:
    """`text` with every PII span replaced by its typed placeholder."""
    out: list[str] = []
    cursor = 0
    for r in find_pii(text, student_id_pattern=student_id_pattern):
        out.append(text[cursor : r.start])
        out.append(f"[{r.kind}]")
        cursor = r.end
    out.append(text[cursor:])
    return "".join(out)
