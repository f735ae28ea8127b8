"""The history of staff edits of a theme, as sentences: what the admin page and the API's `summary` say.

Plain text (names in curly quotes): every door escapes it as it shows it (templates and admin autoescape;
JSON is data). The structured `ThemeEdit.detail` stays the record; this only reads it.
"""

from __future__ import annotations

from classifiers.themes.models import EditKind, ThemeEdit


def _quoted(text: object) -> str:
    return f"\u201c{text}\u201d"


def _theme(ref: object, seen_from: int | None) -> str:
    """theme 12 “Exams” from a detail's {"id", "name"}; "this theme" when it is the theme looked at."""
    ref = ref if isinstance(ref, dict) else {}
    if seen_from is not None and ref.get("id") == seen_from:
        return "this theme"
    return f"theme {ref.get('id', '?')}" + (f" {_quoted(ref['name'])}" if ref.get("name") else "")


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"


def _count(detail: dict) -> str:
    n = detail.get("comments")
    return "" if n is None else f" ({n} comment{'' if n == 1 else 's'})"


def describe_edit(edit: ThemeEdit, *, seen_from: int | None = None) -> str:
    """One sentence saying what `edit` did: renamed from “x” to “y”; merged theme 12 “a” and theme 15 “b” into
    this one (40 comments); split off “Exam length” (7 comments) by keyword “exam”; hidden from reports.
    `seen_from`: the id of the theme whose history is shown (it reads "this theme"; elsewhere, as in the list of
    all edits, themes are named by id). Who and when are the edit's own fields."""
    detail = edit.detail if isinstance(edit.detail, dict) else {}
    here = seen_from is not None and edit.theme_id == seen_from
    subject = {"id": edit.theme_id, "name": detail.get("name")}
    if edit.kind == EditKind.RENAME:
        target = "" if here else f" theme {edit.theme_id}"
        return f"renamed{target} from {_quoted(detail.get('before', ''))} to {_quoted(detail.get('after', ''))}"
    if edit.kind in (EditKind.HIDE, EditKind.UNHIDE):
        what = "hidden from reports" if edit.kind == EditKind.HIDE else "shown in reports again"
        return what if here else f"{_theme(subject, seen_from)} {what}"
    if edit.kind == EditKind.MERGE:
        merged = _and([_theme(ref, seen_from) for ref in detail.get("merged", [])] or ["themes"])
        return f"merged {merged} into {'this one' if here else f'theme {edit.theme_id}'}{_count(detail)}"
    if edit.kind == EditKind.SPLIT:
        how = f" by keyword {_quoted(detail['keyword'])}" if detail.get("keyword") else " (comments chosen one by one)"
        origin = _theme(detail.get("split_from"), seen_from)
        what = f"{_quoted(detail.get('name', ''))}{_count(detail)}{how}"
        if here:  # the new theme's own history
            return f"split off from {origin} as {what}"
        if origin == "this theme":
            return f"split off {what} into theme {edit.theme_id}"
        return f"split off {what} from {origin} into theme {edit.theme_id}"
    return edit.get_kind_display().lower()
