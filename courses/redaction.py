"""PII detectors and `redact_text()`: pure functions, no Django imports.

Each match is replaced by a typed placeholder ([EMAIL], [URL], [PHONE], [STUDENT_ID], [HANDLE]) so the
text stays readable for staff and trainable for models. Detectors run in an order chosen so a longer,
more specific match wins: URLs with a scheme or a path before e-mails (`https://x.org/~a@b` is one URL),
e-mails before bare domains (`jane[at]uni.edu` is one e-mail) and handles, student ids before phone
numbers, phone numbers before other long digit runs.

Every pattern runs in linear time on any input (a student can send 100,000 characters of `a.a.a…`
in a survey answer; tests/security/test_redaction_attacks.py feeds such text to each pattern). Python's
`re` backtracks, so `finditer` is quadratic when many start positions each scan far before failing.
Two rules keep that from happening:
- a pattern that can scan far starts only at the start of a token (a lookbehind that refuses to start
  inside the run it would scan), so at most one start per run does the long scan;
- every other repetition is bounded (a host label has at most 63 characters, a host at most 10 labels,
  a phone number a fixed number of groups), so each start costs a constant amount of work.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

DEFAULT_STUDENT_ID_PATTERN = r"\b[A-Za-z]{0,2}\d{7,10}\b"

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"  # one DNS label (RFC 1035: at most 63 characters)
# Top-level domains recognised without a path. Two-letter country codes that are also common words
# ("it", "is", "in", "to", "me", "no", "so" ...) are left out: "good.It was" is a missing space, not a host.
_BARE_TLDS = (
    r"(?:ac|co|com|edu|gov|net|org|sch)\.[a-z]{2}"
    r"|com|org|net|edu|gov|mil|int|info|biz|io|ai|app|dev|xyz|online|site|tech|email"
    r"|uk|de|fr|nl|es|ca|au|nz|ie|ch|eu|ru|cn|jp|br|pl|se|dk|fi|pt|gr|cz|hu|ro|za|mx|ar|cl"
)
_URL = re.compile(
    rf"""(?xi)
    \b(?:https?://|ftp://|www\.)[^\s<>"']+          # scheme or www. prefix (always succeeds once started)
    | (?<![\w.@%+-])(?:{_LABEL}\.){{1,10}}(?:com|org|net|edu|gov|io|ac\.[a-z]{{2}}|co\.[a-z]{{2}}|[a-z]{{2}})
      /[^\s<>"']*                                   # bare host/path
    """
)
# A host without scheme or path: "janedoe.com", "example.co.uk". Not inside an e-mail or a longer token.
_BARE_HOST = re.compile(
    rf"(?i)(?<![\w.@%+-])(?:{_LABEL}\.){{1,10}}(?:{_BARE_TLDS})(?![\w@%+-]|\.[a-z0-9])"
)
# Also the obfuscated forms students use: "jane (at) uni (dot) edu", "jane[at]uni.edu".
_EMAIL = re.compile(
    r"(?i)(?<![\w.%+-])[\w.%+-]+(?:\s*(?:@|\[at\]|\(at\))\s*)[\w-]+"
    r"(?:\s*(?:\.|\[dot\]|\(dot\))\s*[\w-]+)+\b"
)
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?\b")
# Phone numbers: an optional +country code, then 7-15 digits in groups separated by spaces, dots,
# dashes or parentheses; or + and 7-15 digits ("+447911123456", "+44 7911 123456"); or a national
# number with its trunk 0 ("07911123456", "07911 123456", "020 7946 0958"). Each digit consumes at
# most one separator, so there is one way to read a digit run and the work per start is bounded.
_PHONE = re.compile(
    r"""(?x)
    (?<![\w+])
    (?: \+\d{1,3}(?:[ .-]?\d){6,14}
      | 0(?:[ -]?\d){9,10}
      | (?:\+\d{1,3}[\s.-]?)?
        (?:\(\d{1,4}\)[\s.-]?\d{2,4}(?:[\s.-]\d{2,4}){1,4}
         | \d{2,4}(?:[\s.-]\d{2,4}){2,4}))
    (?!\w)
    """
)
# Any other run of 11 or more digits is an identifier of some kind (national id, card, matriculation).
_LONG_ID = re.compile(r"(?<!\d)\d{11,}+(?!\d)")
_DATE = re.compile(r"^(?:\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4})$")
_TRAILING_PUNCT = ".,;:!?)]}'\""

# Every built-in pattern, for the linear-time tests (a new detector must be listed here).
PATTERNS: dict[str, re.Pattern[str]] = {
    "URL": _URL, "EMAIL": _EMAIL, "BARE_HOST": _BARE_HOST, "HANDLE": _HANDLE,
    "STUDENT_ID": re.compile(DEFAULT_STUDENT_ID_PATTERN), "PHONE": _PHONE, "LONG_ID": _LONG_ID, "DATE": _DATE,
}


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


class _Spans:
    """Non-overlapping spans kept sorted by start, so each overlap check is a binary search (the
    earlier list scan made text with many matches, e.g. 30,000 handles, quadratic)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.items: list[Redaction] = []

    def free(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.starts, start)
        if i < len(self.items) and self.items[i].start < end:
            return False
        return i == 0 or self.items[i - 1].end <= start

    def add(self, item: Redaction) -> None:
        i = bisect.bisect_left(self.starts, item.start)
        self.starts.insert(i, item.start)
        self.items.insert(i, item)


def _detectors(student_id_pattern: str) -> list[tuple[str, re.Pattern[str]]]:
    return [
        ("URL", _URL),
        ("EMAIL", _EMAIL),
        ("URL", _BARE_HOST),
        ("HANDLE", _HANDLE),
        ("STUDENT_ID", re.compile(student_id_pattern)),
        ("PHONE", _PHONE),
        ("STUDENT_ID", _LONG_ID),
    ]


def find_pii(text: str, *, student_id_pattern: str = DEFAULT_STUDENT_ID_PATTERN) -> list[Redaction]:
    """All non-overlapping PII spans in `text`, earliest detector winning on overlap."""
    detectors = _detectors(student_id_pattern)
    taken = _Spans()
    for kind, pattern in detectors:
        for match in pattern.finditer(text):
            start, end = _trim_url(match) if kind == "URL" else match.span()
            if kind == "PHONE" and (sum(c.isdigit() for c in text[start:end]) < 7 or _DATE.match(text[start:end])):
                continue  # dates like 2026-03-14 or scores like 10 - 20 - 30 are not phone numbers
            if end > start and taken.free(start, end):
                taken.add(Redaction(kind, start, end, text[start:end]))
    return taken.items


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


def pii_candidates(text: str, *, student_id_pattern: str = DEFAULT_STUDENT_ID_PATTERN) -> list[tuple[int, int]]:
    """(start, end) of every match of every detector, overlapping ones included: the places where cutting
    `text` short could leave half of a piece of PII that `redact_text` no longer recognises in the rest
    ("+44 20" of a phone number). Wider than `find_pii` on purpose: a cut must avoid them all."""
    return [match.span() for _, pattern in _detectors(student_id_pattern) for match in pattern.finditer(text)]
