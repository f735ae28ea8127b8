"""Staff control of themes: rename, merge, split off, hide and show again.

Who may: `Action.MANAGE_THEMES` (the course's instructors and TAs, as for recomputing). Each edit writes one
`ThemeEdit` row (who, when, what; append-only) in the same transaction as the change. Every edit survives
recomputation: a staff name and the hidden flag are fields a recomputation never writes; a merge and a split
move comments between themes, and the recomputation keeps them where staff put them
(classifiers.ml.theme_edits). No edit while a recomputation runs: it read the themes before the edit.

Hide, show, merge and split off also bring the suggestions of schemas made from the themes in line, in the
edit's transaction (classifiers.themes.labels.refresh_suggestions), so every door (admin action, admin page,
API) gets it from here: a hidden theme's label stops suggesting, and comments split off lose their old theme's
suggestion, at once rather than at the next recomputation. A rename changes no suggestion.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from classifiers.ml.embeddings import to_bytes
from classifiers.ml.themes import keywords, theme_name
from classifiers.themes.embeddings import course_vectors
from classifiers.themes.labels import refresh_suggestions
from classifiers.themes.models import EditKind, Theme, ThemeEdit, ThemeMember, ThemeRun, ThemeStatus
from courses.models import Course, Feedback
from courses.permissions import Action, authorize
from courses.screening import shown_to_course_staff
from eduplatform.errors import DomainError
from eduplatform.jobs import JobStatus

NAME_MAX = Theme._meta.get_field("name_by_staff").max_length
KEYWORD_MAX = 100


def _refused(message: str, field: str | None = None) -> DomainError:
    error = DomainError(message)
    error.field = field
    return error


def clean_theme_name(name: str | None) -> str:
    """A staff name: white space folded; never empty, at most NAME_MAX characters (shown escaped everywhere)."""
    name = " ".join((name or "").split())
    if not name:
        raise _refused("a theme's name cannot be empty", "name")
    if len(name) > NAME_MAX:
        raise _refused(f"a theme's name is at most {NAME_MAX} characters; this one has {len(name)}", "name")
    return name


def _locked(themes: Sequence[Theme]) -> list[Theme]:
    """The themes' current rows, locked (in id order, so two edits never wait on each other crosswise)."""
    rows = {t.pk: t for t in Theme.objects.select_for_update().filter(pk__in=[t.pk for t in themes]).order_by("pk")}
    return [rows[t.pk] for t in themes]


def _check_editable(course: Course, themes: Sequence[Theme]) -> None:
    for theme in themes:
        if theme.status == ThemeStatus.MERGED:
            raise _refused(
                f"theme {theme.pk} \u201c{theme.display_name}\u201d was merged into theme "
                f"{theme.merged_into_id}; change that theme instead"
            )
        if theme.status == ThemeStatus.VANISHED:
            raise _refused(
                f"theme {theme.pk} \u201c{theme.display_name}\u201d vanished at the last recomputation "
                "(no comments fit it any more)"
            )
    running = ThemeRun.objects.filter(course=course, status=JobStatus.RUNNING).first()
    if running is not None:
        raise _refused(
            f"themes of {course.code} are being recomputed (run {running.pk}); change them when it has finished"
        )


def _record(theme: Theme, kind: str, actor: AbstractBaseUser | None, **detail: object) -> ThemeEdit:
    name = getattr(actor, "username", "") if actor is not None else ""
    return ThemeEdit.objects.create(
        course_id=theme.course_id, theme=theme, kind=kind, actor=actor, actor_name=name or "system", detail=detail
    )


def rename_theme(theme: Theme, *, name: str, actor: AbstractBaseUser | None) -> Theme:
    """Give `theme` a staff name; recomputations keep it (they only rewrite the keyword name)."""
    authorize(actor, Action.MANAGE_THEMES, theme.course)
    name = clean_theme_name(name)
    with transaction.atomic():
        (theme,) = _locked([theme])
        _check_editable(theme.course, [theme])
        before = theme.display_name
        theme.name_by_staff = name
        theme.save(update_fields=["name_by_staff", "updated_at"])
        _record(theme, EditKind.RENAME, actor, before=before, after=name)
    return theme


def set_theme_hidden(theme: Theme, *, hidden: bool, actor: AbstractBaseUser | None) -> Theme:
    """Hide `theme` from reports (its comments count under "other") or show it again."""
    authorize(actor, Action.MANAGE_THEMES, theme.course)
    with transaction.atomic():
        (theme,) = _locked([theme])
        _check_editable(theme.course, [theme])
        if theme.hidden == hidden:
            raise _refused(
                f"theme {theme.pk} \u201c{theme.display_name}\u201d is {'hidden' if hidden else 'shown'} already"
            )
        theme.hidden = hidden
        theme.save(update_fields=["hidden", "updated_at"])
        _record(theme, EditKind.HIDE if hidden else EditKind.UNHIDE, actor, name=theme.display_name)
        refresh_suggestions(theme.course, themes=[theme.pk])
    return theme


def merge_themes(themes: Sequence[Theme], *, into: Theme, actor: AbstractBaseUser | None) -> Theme:
    """Merge `themes` into `into` (one of them, or added): it keeps its id, name and hidden flag and takes the
    others' comments; the others become "merged into" it, for good (recomputations keep them together)."""
    chosen = list({t.pk: t for t in [into, *themes]}.values())
    if len(chosen) < 2:
        raise _refused("choose at least two themes to merge", "themes")
    codes = sorted({t.course.code for t in chosen})
    if len(codes) > 1:
        raise _refused(
            f"themes of different courses cannot be merged ({', '.join(codes)}); choose themes of one course", "themes"
        )
    authorize(actor, Action.MANAGE_THEMES, into.course)
    with transaction.atomic():
        chosen = _locked(chosen)
        into, others = chosen[0], chosen[1:]
        _check_editable(into.course, chosen)
        other_ids = [t.pk for t in others]
        ThemeMember.objects.filter(theme_id__in=other_ids).update(theme=into)
        # Themes merged earlier into one of these now point at the kept one.
        Theme.objects.filter(merged_into_id__in=other_ids).update(merged_into=into)
        Theme.objects.filter(pk__in=other_ids).update(
            status=ThemeStatus.MERGED, merged_into=into, merged_by_staff=True, size=0, updated_at=timezone.now()
        )
        into.keywords = list(dict.fromkeys([*into.keywords, *(w for t in others for w in t.keywords)]))[:8]
        _recentre(into)
        _follow_in_latest_run(into.course, dict.fromkeys(other_ids, into.pk))
        _record(
            into,
            EditKind.MERGE,
            actor,
            merged=[{"id": t.pk, "name": t.display_name} for t in others],
            comments=into.size,
        )
        refresh_suggestions(into.course, themes=[into.pk, *other_ids])
    return into


def split_theme(
    theme: Theme, *, name: str, actor: AbstractBaseUser | None, keyword: str = "", feedback_ids: Sequence[int] = ()
) -> Theme:
    """Split the comments of `theme` that contain `keyword` (or the comments `feedback_ids`) off into a new
    theme named `name`. Only comments staff may read can be chosen (screened clear or released). The new
    theme keeps its id and its comments through recomputations; it is hidden when `theme` is."""
    authorize(actor, Action.MANAGE_THEMES, theme.course)
    name = clean_theme_name(name)
    keyword = " ".join((keyword or "").split())
    ids = sorted(set(feedback_ids))
    if keyword and ids:
        raise _refused("choose the comments by a keyword or one by one, not both")
    if not keyword and not ids:
        raise _refused("choose the comments to split off: a keyword they contain, or comments of the theme", "comments")
    if len(keyword) > KEYWORD_MAX:
        raise _refused(f"a keyword is at most {KEYWORD_MAX} characters; this one has {len(keyword)}", "keyword")
    with transaction.atomic():
        (theme,) = _locked([theme])
        _check_editable(theme.course, [theme])
        readable = shown_to_course_staff(Feedback.objects.filter(theme_member__theme=theme))
        if keyword:
            chosen = list(readable.filter(redacted_text__icontains=keyword).values_list("pk", flat=True))
            if not chosen:
                raise _refused(
                    f"no comment of theme \u201c{theme.display_name}\u201d contains \u201c{keyword}\u201d;"
                    " nothing was split off",
                    "keyword",
                )
        else:
            chosen = list(readable.filter(pk__in=ids).values_list("pk", flat=True))
            strangers = [pk for pk in ids if pk not in set(chosen)]
            if strangers:
                shown = ", ".join(map(str, strangers[:10])) + (" …" if len(strangers) > 10 else "")
                raise _refused(
                    f"comments {shown} are not comments of theme \u201c{theme.display_name}\u201d that "
                    "you may read; nothing was split off",
                    "comments",
                )
        if len(chosen) >= ThemeMember.objects.filter(theme=theme).count():
            raise _refused(f"every comment of theme \u201c{theme.display_name}\u201d was chosen: rename it instead")
        words = _keywords_of(theme, chosen)
        new = Theme.objects.create(
            course=theme.course,
            name=theme_name(words) if words else name[:120],
            name_by_staff=name,
            hidden=theme.hidden,
            keywords=words,
            centroid=theme.centroid,
            split_from=theme,
            first_seen_run=None,
            last_seen_run=theme.last_seen_run,
        )
        ThemeMember.objects.filter(feedback_id__in=chosen).update(theme=new)
        _recentre(new)
        _recentre(theme)
        _record(
            new,
            EditKind.SPLIT,
            actor,
            name=name,
            split_from={"id": theme.pk, "name": theme.display_name},
            keyword=keyword or None,
            comments=len(chosen),
        )
        refresh_suggestions(theme.course, themes=[theme.pk, new.pk])
    return new


def _keywords_of(theme: Theme, chosen: list[int]) -> list[str]:
    """Keywords setting the chosen comments apart from the rest of their theme (readable comments only)."""
    rows = list(
        shown_to_course_staff(Feedback.objects.filter(theme_member__theme=theme))
        .order_by("pk")
        .values_list("pk", "redacted_text")
    )
    picked = set(chosen)
    found = keywords([text for _, text in rows], np.array([0 if pk in picked else -1 for pk, _ in rows]))
    return found[0] if found else []


def _recentre(theme: Theme) -> None:
    """A theme's centre, size and members' similarities after comments moved (quotes are the closest)."""
    data = course_vectors(Feedback.objects.filter(theme_member__theme=theme))
    theme.size = ThemeMember.objects.filter(theme=theme).count()
    if len(data.ids):
        centre = data.vectors.astype(np.float64).sum(axis=0)
        centre = (centre / max(float(np.linalg.norm(centre)), 1e-12)).astype(np.float32)
        theme.centroid = to_bytes(centre)
        sql = f"""
            UPDATE {ThemeMember._meta.db_table} m SET similarity = u.s
            FROM unnest(%s::bigint[], %s::float8[]) AS u(f, s) WHERE m.feedback_id = u.f
        """  # noqa: S608 - the table name is ours; every value is a parameter
        with connection.cursor() as cursor:
            cursor.execute(sql, [data.ids, (data.vectors @ centre).astype(float).round(6).tolist()])
    theme.save(update_fields=["size", "centroid", "keywords", "updated_at"])


def _follow_in_latest_run(course: Course, moved: dict[int, int]) -> None:
    """The latest run's micro-clusters of merged themes now belong to the kept one: the next recomputation
    starts from that grouping (classifiers.ml.themes.cluster)."""
    run = ThemeRun.objects.filter(course=course, status=JobStatus.SUCCEEDED).order_by("-finished_at", "-pk").first()
    if run is not None and run.micro_themes:
        ThemeRun.objects.filter(pk=run.pk).update(micro_themes=[moved.get(t, t) for t in run.micro_themes])
