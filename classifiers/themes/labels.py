"""From themes to labels: a multi-label topic schema whose labels are chosen themes, their members suggested.

The members become `ThemeSuggestion` rows, shown in the annotate queue beside (never instead of) a model's
prediction; training reads annotations only (classifiers.selectors.training_labels), so nothing a theme
suggests is training data until a person saves it. Only themes that may be named (at least the course's
minimum group size, not hidden, active) can become labels: a small theme's name, or its members marked in
the queue, would describe a small group. Held comments get a suggestion too, but the annotate queue shows
only what course staff may read (courses.screening), and the suggestions selector below applies the same rule.

Each label remembers its theme (`ThemeLabel`), and every recomputation, and every staff hide, show, merge or
split (classifiers.themes.staff), refreshes the suggestions by the same rule in its transaction
(`refresh_suggestions`): the theme's members get its label, items that left it lose theirs, and a label whose
theme may not be named (hidden, vanished, below the minimum) suggests nothing until it may again. A label
whose theme was merged into another follows that theme, unless the schema already has a label for it (then
it suggests nothing any more). An item annotated under the schema keeps what it has: annotations are never
touched.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.db.models import Q

from classifiers.labelling.schemas import SchemaError, create_schema
from classifiers.models import Annotation, Label, LabelSchema, SchemaKind
from classifiers.themes.models import Theme, ThemeLabel, ThemeMember, ThemeStatus, ThemeSuggestion
from classifiers.themes.selectors import themes_to_list
from courses.models import Course, Feedback
from courses.permissions import Action, authorize
from courses.screening import REMOVED, shown_to_course_staff

DEFAULT_SCHEMA_NAME = "topics"
LABEL_MAX = 64  # Label.name


def schema_from_themes(
    themes: Iterable[Theme], *, actor: AbstractBaseUser | None, name: str = DEFAULT_SCHEMA_NAME
) -> LabelSchema:
    """A new multi-label schema of the themes' course, one label per theme (its display name, in the order
    given), and a suggestion of its theme's label for every member that is not removed.

    Who may: whoever may create the course's schemas (Action.EDIT_SCHEMA). Refused: no themes, themes of two
    courses, a theme hidden, merged or vanished, or smaller than the course's minimum group size."""
    chosen = list(dict.fromkeys(themes))
    if not chosen:
        raise SchemaError("choose at least one theme")
    courses = {t.course_id for t in chosen}
    if len(courses) > 1:
        raise SchemaError("the chosen themes belong to more than one course; a schema is made from one course's themes")
    course = Course.objects.get(pk=courses.pop())
    authorize(actor, Action.EDIT_SCHEMA, course)
    _check_nameable(chosen, course)
    labels = _label_names(chosen)
    try:
        validate_slug(name)
    except ValidationError as exc:  # the sentence is ours
        raise SchemaError(f"{name!r} is not a schema name: use letters, numbers, hyphens and underscores") from exc
    description = (
        "Topics made from the course's themes. A theme's comments show its label as a suggestion; "
        "it is a label only once you save it. Choose every topic a comment talks about."
    )
    try:
        with transaction.atomic():
            schema = create_schema(
                name, kind=SchemaKind.MULTI, course=course, labels=labels, description=description, actor=actor
            )
            by_name = {lb.name: lb for lb in schema.labels.all()}
            pairs = [(t, by_name[n]) for t, n in zip(chosen, labels, strict=True)]
            for theme, label in pairs:  # the guidelines beside the annotate view: what the theme is about
                label.description = f"Theme {theme.pk}; its keywords: {', '.join(theme.keywords[:8])}."
            Label.objects.bulk_update([label for _, label in pairs], ["description"])
            ThemeLabel.objects.bulk_create(ThemeLabel(label=label, theme=theme) for theme, label in pairs)
            _suggest(schema, {theme.pk: label.pk for theme, label in pairs})
    except IntegrityError as exc:  # the schema name is unique per course
        raise SchemaError(f'{course.code} already has a schema called "{name}": choose another name') from exc
    return schema


def _check_nameable(themes: Sequence[Theme], course: Course) -> None:
    listable = set(themes_to_list(Course.objects.filter(pk=course.pk)).values_list("pk", flat=True))
    for theme in themes:
        if theme.status != ThemeStatus.ACTIVE:
            raise SchemaError(f"theme {theme.pk} is {theme.get_status_display().lower()}: choose an active theme")
        if theme.hidden:
            raise SchemaError(f'theme "{theme.display_name}" is hidden: show it again before making it a label')
        if theme.pk not in listable:
            # Not named: its name (and marking its members) would describe fewer people than the minimum.
            raise SchemaError(
                f"theme {theme.pk} has fewer comments than {course.code}'s minimum group size: it cannot become a label"
            )


def _label_names(themes: Sequence[Theme]) -> list[str]:
    names = [t.display_name.strip()[:LABEL_MAX].strip() for t in themes]
    seen: dict[str, Theme] = {}
    for theme, name in zip(themes, names, strict=True):
        if name in seen:
            raise SchemaError(f'themes {seen[name].pk} and {theme.pk} are both called "{name}": rename one first')
        seen[name] = theme
    return names


def _suggest(schema: LabelSchema, label_of: dict[int, int]) -> int:
    """A suggestion of its theme's label (theme id → label id) for every member of those themes not removed."""
    rows = [
        ThemeSuggestion(feedback_id=fid, schema=schema, label_id=label_of[tid], theme_id=tid, similarity=sim)
        for fid, (tid, sim) in _members(label_of).items()
    ]
    ThemeSuggestion.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def _members(theme_ids: Collection[int]) -> dict[int, tuple[int, float]]:
    """feedback id → (theme id, similarity) of the members of `theme_ids` (removed comments left out)."""
    rows = (
        ThemeMember.objects.filter(theme_id__in=list(theme_ids))
        .exclude(feedback__screening=REMOVED)
        .values_list("feedback_id", "theme_id", "similarity")
    )
    return {fid: (tid, sim) for fid, tid, sim in rows.iterator(chunk_size=5000)}


def refresh_suggestions(course: Course, *, themes: Collection[int] | None = None) -> dict[str, int]:
    """The suggestions of every schema made from `course`'s themes made to follow the themes' members, by the
    rule of `schema_from_themes`; called in the transaction of each recomputation and of each staff edit
    (hide, show, merge, split off). New members get their theme's label; items that left the theme, or whose
    theme may no longer be named (hidden, merged, vanished, below the minimum group size), lose their
    suggestion; an item annotated under the schema keeps its row as it was (never added, changed or removed:
    it is what the person saw). A label whose theme was merged into another first follows it (`_follow_merges`).

    `themes`: the theme ids an edit touched (after a merge, the kept one and those merged into it); only their
    members and the items they suggested are looked at, in the schemas with a label of one of them. None (a
    recomputation): every item of every schema. Returns how many rows were added, changed and removed."""
    counts = {"added": 0, "changed": 0, "removed": 0}
    links, moved = _follow_merges(course)
    if not links and not moved:
        return counts  # no schema was made from this course's themes: no query more for a recomputation
    within = None if themes is None else set(themes) | {theme for _, theme in moved}
    nameable = set(
        themes_to_list(Course.objects.filter(pk=course.pk))
        .filter(status=ThemeStatus.ACTIVE, hidden=False)
        .values_list("pk", flat=True)
    )
    schemas = {schema for schema, theme, _ in links if within is None or theme in within}
    for schema_id in sorted(schemas | {schema for schema, _ in moved}):
        label_of = {theme: label for schema, theme, label in links if schema == schema_id and theme in nameable}
        for name, n in zip(counts, _refresh_schema(schema_id, label_of, within), strict=True):
            counts[name] += n
    return counts


def _follow_merges(course: Course) -> tuple[list[tuple[int, int, int]], set[tuple[int, int]]]:
    """(schema id, theme id, label id) of each label made from `course`'s themes once every label whose theme
    was merged into another (by staff or by a recomputation) follows it, and the (schema id, theme id) a link
    left or joined (their suggestions change). A label that follows names the theme its theme's comments went
    into, so it is suggested to that theme's members. If that theme already has a label in the schema (its
    own, or one that followed it first, in the schema's label order), the merged-away label stops being a
    theme's label: its link is removed, so it never suggests again (a merged theme never comes back, and a
    later merge must not wake it in place of the label that has been suggesting). It stays in the schema for
    people to choose, and its annotations stay as they are."""
    rows = list(
        ThemeLabel.objects.filter(theme__course=course).values_list(
            "label__schema_id", "theme_id", "label_id", "label__position", "theme__status"
        )
    )
    links = [(schema, theme, label) for schema, theme, label, _, status in rows if status != ThemeStatus.MERGED]
    merged = sorted((schema, position, label, theme) for schema, theme, label, position, status in rows
                    if status == ThemeStatus.MERGED)
    if not merged:
        return links, set()
    into = dict(Theme.objects.filter(course=course, status=ThemeStatus.MERGED).values_list("pk", "merged_into_id"))
    taken = {(schema, theme) for schema, theme, _ in links}
    unlinked, moved = [], set()
    for schema, _, label, theme in merged:
        target = _merged_into_last(theme, into)
        moved |= {(schema, theme), (schema, target)} if target is not None else {(schema, theme)}
        if target is None or (schema, target) in taken:
            unlinked.append(label)
            continue
        ThemeLabel.objects.filter(pk=label).update(theme_id=target)
        taken.add((schema, target))
        links.append((schema, target, label))
    ThemeLabel.objects.filter(pk__in=unlinked).delete()
    return links, moved


def _merged_into_last(theme: int, into: dict[int, int | None]) -> int | None:
    """The theme a merged theme's comments are in now: its merged_into, followed while that was merged too
    (a recomputation does not shorten the chain; a staff merge does). None if the chain breaks."""
    seen = {theme}
    while theme in into:
        theme = into[theme]
        if theme is None or theme in seen:
            return None
        seen.add(theme)
    return theme


def _refresh_schema(schema_id: int, label_of: dict[int, int], within: set[int] | None = None) -> tuple[int, int, int]:
    """One schema's suggestions made equal to the members of its nameable themes (theme id → label id),
    items annotated under it left as they are; with `within`, only the members of those themes and the items
    they suggested. Returns (added, changed, removed)."""
    wanted = _members(label_of if within is None else [t for t in label_of if t in within])
    rows = ThemeSuggestion.objects.filter(schema_id=schema_id)
    answered = Annotation.objects.filter(schema_id=schema_id, is_current=True)
    if within is not None:
        # A subquery, not a join to the members: the join scanned every suggestion of the schema (6× slower).
        now_in = ThemeMember.objects.filter(theme_id__in=within).values("feedback_id")
        rows = rows.filter(Q(theme_id__in=within) | Q(feedback_id__in=now_in))
    have = {
        fid: (pk, label, theme)
        for pk, fid, label, theme in rows.values_list("pk", "feedback_id", "label_id", "theme_id").iterator(
            chunk_size=5000
        )
    }
    if within is not None:
        answered = answered.filter(feedback_id__in=list(have.keys() | wanted.keys()))
    answered_ids = set(answered.values_list("feedback_id", flat=True))
    gone, changed = [], []
    for fid, (pk, label, theme) in have.items():
        if fid in answered_ids:
            continue
        if fid not in wanted:
            gone.append(pk)
        elif (theme, label) != (wanted[fid][0], label_of[wanted[fid][0]]):
            tid, sim = wanted[fid]
            changed.append(ThemeSuggestion(pk=pk, label_id=label_of[tid], theme_id=tid, similarity=sim))
    added = [
        ThemeSuggestion(feedback_id=fid, schema_id=schema_id, label_id=label_of[tid], theme_id=tid, similarity=sim)
        for fid, (tid, sim) in wanted.items()
        if fid not in have and fid not in answered_ids
    ]
    ThemeSuggestion.objects.filter(pk__in=gone).delete()
    ThemeSuggestion.objects.bulk_update(changed, ["label", "theme", "similarity"], batch_size=5000)
    ThemeSuggestion.objects.bulk_create(added, batch_size=5000)
    return len(added), len(changed), len(gone)


# --- Selectors: what the annotate view shows, and which suggestion a person's labels confirm ---------------


def theme_suggestions(schema: LabelSchema, feedback_ids: Collection[int]) -> dict[int, ThemeSuggestion]:
    """feedback id → its theme suggestion under `schema`, for items course staff may read only."""
    rows = shown_to_course_staff(
        ThemeSuggestion.objects.filter(schema=schema, feedback_id__in=list(feedback_ids)), via="feedback"
    ).select_related("theme")
    return {s.feedback_id: s for s in rows}


def made_from_themes(schema: LabelSchema) -> bool:
    return ThemeLabel.objects.filter(label__schema=schema).exists()


def confirmed_theme(feedback: Feedback, schema: LabelSchema, label_ids: Collection[int]) -> int | None:
    """The theme whose suggestion `label_ids` confirm (exactly its label, the rule of model suggestions)."""
    row = ThemeSuggestion.objects.filter(feedback=feedback, schema=schema).values_list("label_id", "theme_id").first()
    if row is None or set(label_ids) != {row[0]}:
        return None
    return row[1]


def themes_by_id(course: Course, ids: Sequence[int]) -> list[Theme]:
    """The themes of `course` with `ids`, in that order (an id of another course is refused, never looked up
    outside the course). Whether each may become a label is `schema_from_themes`'s rule."""
    found = Theme.objects.filter(course=course).in_bulk(list(ids))
    missing = [i for i in ids if i not in found]
    if missing:
        raise SchemaError(f"theme {missing[0]} is not a theme of {course.code}")
    return [found[i] for i in ids]


def free_schema_name(course: Course, base: str = DEFAULT_SCHEMA_NAME) -> str:
    """`topics`, else `topics-2`, `topics-3` …: the first name no schema of `course` has."""
    taken = set(LabelSchema.objects.filter(course=course, name__startswith=base).values_list("name", flat=True))
    return next(n for n in [base, *(f"{base}-{i}" for i in range(2, len(taken) + 3))] if n not in taken)
