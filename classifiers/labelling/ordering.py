"""Selectors for the annotate view: which item comes next, and what the page shows of it.

Orders: newest first, random (stable per annotator), or most uncertain first under the active model
(active learning: lowest margin between the two best labels). Random and uncertain orders, and any
order balanced across modules, walk a ranked list of ids that is computed once and cached (keyed by
the newest feedback id and the model version), so save-and-next stays fast with 100,000 rows.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from itertools import zip_longest

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from classifiers.models import Annotation, AnnotationSource, Label, LabelSchema, ModelVersion, Prediction
from classifiers.selectors import active_version_for
from classifiers.themes.labels import theme_suggestions
from courses.models import Course, Feedback
from courses.screening import shown_to_course_staff
from courses.surveys.anonymity import day_of

NEWEST, RANDOM, UNCERTAIN = "newest", "random", "uncertain"
ORDERS = {NEWEST: "Newest first", RANDOM: "Random", UNCERTAIN: "Most uncertain first"}
# Long enough to keep most save-and-next requests off the ranking query, short enough that new
# feedback or a newly activated model shows up within minutes without any invalidation hooks.
RANKING_TTL_S = 300
LOCAL_TTL_S = 60
_LOCAL_MAX = 16
_LOCAL_RANKINGS: dict[str, tuple[float, list[int]]] = {}
WALK_CHUNK = 500


def margin(scores: dict[str, float], *, multi: bool = False) -> float:
    """How sure the model is: top-1 minus top-2 probability (multi-label: the label closest to 0.5)."""
    if not scores:
        return 1.0
    if multi:
        return min(abs(p - 0.5) * 2 for p in scores.values())
    top = sorted(scores.values(), reverse=True)
    return top[0] - (top[1] if len(top) > 1 else 0.0)


def _labelled_by(schema: LabelSchema, user: AbstractBaseUser) -> QuerySet[Annotation]:
    return Annotation.objects.filter(
        feedback=OuterRef("pk"), schema=schema, annotator=user, source=AnnotationSource.HUMAN, is_current=True
    )


def _ranked_ids(schema: LabelSchema, course: Course, *, order: str, user: AbstractBaseUser,
                balance_modules: bool, version: ModelVersion | None) -> list[int]:
    # Newest id by a backward scan of the primary key (an aggregate would read every row of the course).
    newest = (shown_to_course_staff(Feedback.objects.filter(course=course)).order_by("-pk")
              .values_list("pk", flat=True).first() or 0)
    seed = user.pk if order == RANDOM else 0
    key = (f"annotate:rank:{schema.pk}:{course.pk}:{order}:{int(balance_modules)}:{seed}:"
           f"{version.pk if version else 0}:{newest}:{day_of(timezone.now()).date()}")  # a new day shows more
    local = _LOCAL_RANKINGS.get(key)
    if local is not None and local[0] > time.monotonic():
        return local[1]
    ranked = cache.get(key)
    if ranked is None:
        ranked = _rank(schema, course, order=order, seed=seed, balance_modules=balance_modules, version=version)
        cache.set(key, ranked, RANKING_TTL_S)
    # A process-local copy too: the shared cache costs a ~0.5 MB transfer per request at 100,000 rows.
    if len(_LOCAL_RANKINGS) >= _LOCAL_MAX:
        _LOCAL_RANKINGS.pop(next(iter(_LOCAL_RANKINGS)))
    _LOCAL_RANKINGS[key] = (time.monotonic() + LOCAL_TTL_S, ranked)
    return ranked


def _rank(schema: LabelSchema, course: Course, *, order: str, seed: int, balance_modules: bool,
          version: ModelVersion | None) -> list[int]:
    rows = list(shown_to_course_staff(Feedback.objects.filter(course=course)).order_by("-submitted_at", "-pk")
                .values_list("pk", "module_id"))
    if order == RANDOM:
        random.Random(seed).shuffle(rows)
    elif order == UNCERTAIN and version is not None:
        multi = schema.kind == "multi"
        certainty = {
            fid: margin(scores, multi=multi)
            for fid, scores in Prediction.objects.filter(model_version=version, feedback__course=course)
            .values_list("feedback_id", "scores").iterator(chunk_size=5000)
        }
        # Items the model has not classified yet come last (newest first among them).
        rows.sort(key=lambda row: certainty.get(row[0], 2.0))
    if balance_modules:
        per_module: dict[int | None, list[int]] = defaultdict(list)
        for pk, module_id in rows:
            per_module[module_id].append(pk)
        return [pk for group in zip_longest(*per_module.values()) for pk in group if pk is not None]
    return [pk for pk, _ in rows]


def annotation_queue(
    schema: LabelSchema, *, course: Course, user: AbstractBaseUser, order: str = NEWEST,
    balance_modules: bool = False, exclude: Collection[int] = (), limit: int = 10,
    version: ModelVersion | None | bool = True,
) -> list[Feedback]:
    """The next `limit` items of `course` for `user` to label under `schema`, in `order`.

    Items `user` already labelled are skipped, and so are `exclude` (what the page holds or skipped).
    `version` is the active model version when the caller already has it (True: look it up).
    """
    if order not in ORDERS:
        raise ValueError(f"unknown queue order {order!r} ({', '.join(ORDERS)})")
    items = shown_to_course_staff(Feedback.objects.filter(course=course)).select_related("module")
    if order == NEWEST and not balance_modules:
        return list(items.exclude(pk__in=list(exclude)).filter(~Exists(_labelled_by(schema, user)))
                    .order_by("-submitted_at", "-pk")[:limit])
    if version is True:
        version = active_version_for(schema, course) if order == UNCERTAIN else None
    if order != UNCERTAIN:
        version = None
    ranked = _ranked_ids(schema, course, order=order, user=user, balance_modules=balance_modules, version=version)
    skip = set(exclude)
    chosen: list[int] = []
    for start in range(0, len(ranked), WALK_CHUNK):
        chunk = [pk for pk in ranked[start:start + WALK_CHUNK] if pk not in skip]
        done = set(Annotation.objects.filter(feedback_id__in=chunk, schema=schema, annotator=user,
                                             source=AnnotationSource.HUMAN, is_current=True)
                   .values_list("feedback_id", flat=True))
        chosen.extend(pk for pk in chunk if pk not in done)
        if len(chosen) >= limit:
            break
    chosen = chosen[:limit]
    by_pk = items.in_bulk(chosen)
    return [by_pk[pk] for pk in chosen if pk in by_pk]


@dataclass(frozen=True)
class Suggestion:
    label_ids: list[int]
    confidence: float  # a theme's: the cosine similarity to its centre
    version: str
    source: str = "model"  # or "theme"


def item_payloads(schema: LabelSchema, items: Iterable[Feedback], *, user: AbstractBaseUser,
                  version: ModelVersion | None, labels: Iterable[Label] | None = None,
                  with_mine: bool = True) -> list[dict]:
    """What the annotate page needs per item (redacted text only), in two queries for the whole batch."""
    items = list(items)
    ids = [fb.pk for fb in items]
    if not ids:
        return []
    label_ids = {lb.name: lb.pk for lb in (schema.labels.all() if labels is None else labels)}
    suggestions: dict[int, Suggestion] = {}
    if version is not None:
        for fid, names, confidence in Prediction.objects.filter(model_version=version, feedback_id__in=ids) \
                .values_list("feedback_id", "label_names", "confidence"):
            suggestions[fid] = Suggestion([label_ids[n] for n in names if n in label_ids], confidence, str(version))
    # A schema made from themes suggests each member's theme where no model has spoken (classifiers.themes.labels).
    for fid, row in theme_suggestions(schema, [i for i in ids if i not in suggestions]).items():
        suggestions[fid] = Suggestion([row.label_id], row.similarity, "theme", "theme")
    mine: dict[int, list[int]] = defaultdict(list)
    if with_mine:
        for fid, label_id in Annotation.objects.filter(
            feedback_id__in=ids, schema=schema, annotator=user, source=AnnotationSource.HUMAN, is_current=True
        ).values_list("feedback_id", "labels__pk"):
            if label_id is not None:
                mine[fid].append(label_id)
    return [
        {
            "id": fb.pk,
            "text": fb.redacted_text,
            "module": fb.module.title if fb.module_id else "",
            "date": fb.submitted_at.date().isoformat(),
            "suggestion": suggestions[fb.pk].__dict__ if fb.pk in suggestions else None,
            "mine": mine.get(fb.pk, []),
        }
        for fb in items
    ]
