"""A completed theme recomputation for the report benchmark's course, seeded in SQL (no embeddings: the report
page never reads them).

Two succeeded runs: the term's first ("previous", three months earlier) and the latest. Every feedback row
is in one theme or in "other"; the theme follows the comment's text (bench/reports.py writes "the <topic>
were <adjective> <md5>": 7 × 6 = 42 combinations), so quotes and keywords agree with the theme:
- combinations 0-35: one active theme each; 30-35 first seen in the latest run ("new this term"), the rest
  kept from the previous run; a share of each theme's comments (0 % for the first, up to 30 % for the last,
  by a hash of the id) fits no theme and is "other", so sizes differ;
- combination 36 joins theme 0 (a theme of the previous run merged into it); 37 is a theme staff hid
  (counted under "other" in reports); 38-41 are "other";
- a small theme of 3 comments in each module (120 in all: under the minimum group size of 5 in every module,
  over it in the course) that the report must never show (its words are fixed: see FIXED);
- a theme of the previous run that vanished.
Names and keywords come from the product's own functions (classifiers.ml.themes.keywords on a sample of the
members' redacted texts, theme_name), sizes from the members (what the recomputation stores).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

TOPICS = ["lectures", "labs", "pace", "slides", "tutor", "exam", "forum"]  # bench/reports.py FEEDBACK_SQL
ADJECTIVES = ["clear", "rushed", "helpful", "confusing", "great", "boring"]
ACTIVE_THEMES, NEW_FROM = 36, 30
MERGED_COMBO, HIDDEN_COMBO = 36, 37  # 38-41: other
SMALL_PER_MODULE = 3  # the small theme: 3 comments in each module, under the minimum group size of 5
DIM = 384  # the default encoder's dimension; centroids are stored, never read by the page
SAMPLE_EVERY = 50  # keywords from every 50th member: 20,000 texts at a million rows

# Slot of each member: 0..35 active themes, 36 merged-into-0 (so 0), 37 hidden, 38 small; NULL: other.
MEMBERS_SQL = """
WITH small AS (  -- SMALL_PER_MODULE comments of each module, picked by a hash of the id
  SELECT id FROM (
    SELECT f.id, row_number() OVER (PARTITION BY f.module_id ORDER BY hashint4(f.id::int + 23), f.id) AS r
    FROM courses_feedback f WHERE f.course_id = %(course)s AND (hashint4(f.id::int + 23) & 65535) < 256
  ) picked WHERE r <= %(small)s
)
INSERT INTO classifiers_thememember (feedback_id, theme_id, similarity)
SELECT id, (%(slots)s::bigint[])[1 + slot], 0.35 + 0.6 * ((hashint4(id::int + 11) & 65535) / 65536.0)
FROM (
  SELECT f.id, CASE
           WHEN f.id IN (SELECT id FROM small) THEN 38
           WHEN c.combo < %(active)s AND (hashint4(f.id::int + 5) & 65535) < 65536 * 0.3 * c.combo / %(active)s
             THEN NULL
           WHEN c.combo < %(active)s THEN c.combo
           WHEN c.combo = %(merged)s THEN 0
           WHEN c.combo = %(hidden)s THEN 37
         END AS slot
  FROM courses_feedback f
  CROSS JOIN LATERAL (SELECT (array_position(%(topics)s::text[], split_part(f.redacted_text, ' ', 2)) - 1) * 6
                             + array_position(%(adjectives)s::text[], split_part(f.redacted_text, ' ', 4)) - 1
                             AS combo) c
  WHERE f.course_id = %(course)s
) s WHERE slot IS NOT NULL
"""
SIZES_SQL = """
UPDATE classifiers_theme t SET size = n.count
FROM (SELECT theme_id, count(*) FROM classifiers_thememember WHERE theme_id = ANY(%(themes)s) GROUP BY 1) n
WHERE t.id = n.theme_id
"""
SAMPLE_SQL = """
SELECT f.redacted_text, m.theme_id FROM courses_feedback f
LEFT JOIN classifiers_thememember m ON m.feedback_id = f.id
WHERE f.course_id = %(course)s AND f.id %% %(every)s = 0
"""
# Words of their own for the themes with few or no members (the small theme's members are spread over every
# text, so its sampled keywords could name another theme and the bench's "never shown" check would be moot).
FIXED = {38: ["parking", "canteen", "queue"], 39: ["recordings", "late"], 40: ["enrolment", "login"]}


def seed_themes(course) -> dict:  # noqa: ANN001 - a courses.models.Course
    """Write the runs, themes, members and changes; returns what the bench asserts and reports."""
    from django.db import connection, transaction
    from django.utils import timezone

    from classifiers.ml.embeddings import to_bytes
    from classifiers.ml.themes import keywords, theme_name
    from classifiers.themes.models import ChangeKind, Theme, ThemeChange, ThemeRun, ThemeStatus
    from courses.models import Feedback
    from eduplatform.jobs import JobStatus

    now = timezone.now()
    rng = np.random.default_rng(21)
    centres = rng.standard_normal((41, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    with transaction.atomic():
        previous = ThemeRun.objects.create(course=course, status=JobStatus.SUCCEEDED, started_at=now - timedelta(
            days=90), finished_at=now - timedelta(days=90))
        latest = ThemeRun.objects.create(course=course, status=JobStatus.SUCCEEDED, started_at=now, finished_at=now)
        # Slots 0-35 active, 37 hidden, 38 small (active), 39 merged into 0, 40 vanished; 36 is theme 0.
        themes: dict[int, Theme] = {}
        for slot in [*range(ACTIVE_THEMES), 37, 38, 39, 40]:
            first = latest if (NEW_FROM <= slot < ACTIVE_THEMES or slot == 38) else previous
            status = {39: ThemeStatus.MERGED, 40: ThemeStatus.VANISHED}.get(slot, ThemeStatus.ACTIVE)
            themes[slot] = Theme.objects.create(
                course=course, name=f"slot {slot}", centroid=to_bytes(centres[slot]), status=status,
                hidden=slot == 37, first_seen_run=first, last_seen_run=previous if slot in (39, 40) else latest)
        Theme.objects.filter(pk=themes[39].pk).update(merged_into=themes[0])
        slots = [themes[s].pk if s in themes else 0 for s in range(39)]
        params = {"course": course.pk, "slots": slots, "small": SMALL_PER_MODULE, "active": ACTIVE_THEMES,
                  "merged": MERGED_COMBO, "hidden": HIDDEN_COMBO, "topics": TOPICS, "adjectives": ADJECTIVES,
                  "themes": [t.pk for t in themes.values()], "every": SAMPLE_EVERY}
        with connection.cursor() as cur:
            cur.execute(MEMBERS_SQL, params)
            members = cur.rowcount
            cur.execute(SIZES_SQL, params)
            cur.execute(SAMPLE_SQL, params)
            sample = cur.fetchall()
        _name(themes, sample, keywords, theme_name)
        log = [ThemeChange(run=latest, theme=t, kind=ChangeKind.NEW if t.first_seen_run_id == latest.pk
                           else ChangeKind.KEPT, similarity=None if t.first_seen_run_id == latest.pk else 0.93)
               for s, t in themes.items() if s not in (39, 40)]
        log += [ThemeChange(run=latest, theme=themes[39], kind=ChangeKind.MERGED, into=themes[0]),
                ThemeChange(run=latest, theme=themes[40], kind=ChangeKind.VANISHED)]
        ThemeChange.objects.bulk_create(log)
        log = [ThemeChange(run=previous, theme=t, kind=ChangeKind.NEW) for t in themes.values()
               if t.first_seen_run_id == previous.pk]
        ThemeChange.objects.bulk_create(log)
        kinds = [c.kind for c in ThemeChange.objects.filter(run=latest)]
        changes = {k: kinds.count(k) for k in ChangeKind.values}
        sizes = dict(Theme.objects.filter(course=course).values_list("pk", "size"))
        comments = Feedback.objects.filter(course=course).count()
        stats = {"comments": comments, "themes": len(sizes) - 2, "other": comments - members,
                 "embedding_model": "bench"}
        ThemeRun.objects.filter(pk=latest.pk).update(stats=stats, changes=changes)
        ThemeRun.objects.filter(pk=previous.pk).update(stats={**stats, "themes": 33}, changes={"new": 33})
    with connection.cursor() as cur:
        cur.execute("ANALYZE classifiers_thememember; ANALYZE classifiers_theme")
    themes = {s: Theme.objects.get(pk=t.pk) for s, t in themes.items()}
    return {
        "members": members, "active_shown": [themes[s].display_name for s in range(ACTIVE_THEMES)],
        "new": [themes[s].display_name for s in range(NEW_FROM, ACTIVE_THEMES)],
        "hidden": themes[37].display_name, "small": themes[38].display_name, "small_size": sizes[themes[38].pk],
        "themes": len([t for t in themes.values() if t.status == ThemeStatus.ACTIVE]),
    }


def _name(themes: dict, sample: list[tuple[str, int | None]], keywords, theme_name) -> None:  # noqa: ANN001
    """Keywords and names as a recomputation makes them: class-based TF-IDF over the members' texts."""
    slot_of = {t.pk: i for i, t in enumerate(themes.values())}
    labels = np.array([slot_of.get(theme_id, -1) if theme_id else -1 for _, theme_id in sample], dtype=np.int64)
    words = keywords([text for text, _ in sample], labels)
    for i, (slot, theme) in enumerate(themes.items()):
        found = words[i] if i < len(words) and words[i] and slot not in FIXED else FIXED.get(slot, [f"theme {slot}"])
        theme.keywords, theme.name = found, theme_name(found)[:120]
        theme.save(update_fields=["keywords", "name"])

