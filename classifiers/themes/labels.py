"""From themes to labels: a multi-label topic schema whose labels are chosen themes, their members suggested.

The members become `ThemeSuggestion` rows, shown in the annotate queue beside (never instead of) a model's
prediction; training reads annotations only (classifiers.selectors.training_labels), so nothing a theme
suggests is training data until a person saves it. Only themes that may be named (at least the course's
minimum group size, not hidden, active) can become labels: a small theme's name, or its members marked in
the queue, would describe a small group. Held comments get a suggestion too, but the annotate queue shows
only what course staff may read (courses.screening), and the suggestions selector below applies the same rule.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction

from classifiers.labelling.schemas import SchemaError, create_schema
from classifiers.models import Label, LabelSchema, SchemaKind
from classifiers.themes.models import Theme, ThemeMember, ThemeStatus, ThemeSuggestion
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
            _suggest(schema, pairs)
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


def _suggest(schema: LabelSchema, pairs: Sequence[tuple[Theme, Label]]) -> int:
    label_of = {theme.pk: label for theme, label in pairs}
    members = (
        ThemeMember.objects.filter(theme_id__in=list(label_of))
        .exclude(feedback__screening=REMOVED)
        .values_list("feedback_id", "theme_id", "similarity")
    )
    rows = [
        ThemeSuggestion(feedback_id=fid, schema=schema, label=label_of[tid], theme_id=tid, similarity=sim)
        for fid, tid, sim in members.iterator(chunk_size=5000)
    ]
    ThemeSuggestion.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


# --- Selectors: what the annotate view shows, and which suggestion a person's labels confirm ---------------


def theme_suggestions(schema: LabelSchema, feedback_ids: Collection[int]) -> dict[int, ThemeSuggestion]:
    """feedback id → its theme suggestion under `schema`, for items course staff may read only."""
    rows = shown_to_course_staff(
        ThemeSuggestion.objects.filter(schema=schema, feedback_id__in=list(feedback_ids)), via="feedback"
    ).select_related("theme")
    return {s.feedback_id: s for s in rows}


def made_from_themes(schema: LabelSchema) -> bool:
    return ThemeSuggestion.objects.filter(schema=schema).exists()


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
