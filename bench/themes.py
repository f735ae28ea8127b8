"""Themes benchmark: the product's themes against human aspect categories, and BERTopic in the same run.

Usage (alone on the machine: another benchmark or test run would distort the timings):
    .venv/bin/python bench/themes.py [--data DIR] [--bertopic-runs 3] [--keep]
    .venv/bin/python bench/themes.py --rows 100000

Default mode: the Nilanga student-feedback set (../shared/data/student-feedback-nilanga2022, read in place,
never copied) is stored as one course and its themes are computed through the product path (start_theme_run
and the run the `inference` task does: embeddings by the base encoder, clustering, names, matching).
The comments with exactly one human aspect category (Lecturer, Course, Course_Structure, …) are scored:
NMI and ARI of the product's themes ("other" is one group) against the categories. In the same run, on the
same stored embeddings: BERTopic with its default settings (its UMAP given seeds 0 … --bertopic-runs - 1;
the scores swing with the seed, so the mean and range are reported, each run listed); the product's own
clustering with as many other k-means seeds (its spread; the product itself always uses seed 0); scikit-learn's
HDBSCAN (min_cluster_size 10) and Ward agglomerative clustering (as many clusters as the product has
themes), for the record. Each theme's name is checked against words a person would accept for the aspect
most of its comments carry.

--rows N: N synthetic comments in one course (each a Nilanga comment, or a built-in template when the data
set is absent, with one of 40 short student phrases appended: every text distinct, so each is embedded),
end to end from stored rows to themes in Postgres (`wall_s`), then 1,000 new comments and the
recomputation (`update_s`); `peak_rss_mb` of this process. The embedding runs in this process on the
machine's cores (the worker's setting). Last line: JSON. The benchmark course is deleted unless --keep.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, setup  # noqa: E402

COURSE = "BENCH-THEMES"
DATA = ROOT.parent / "shared" / "data" / "student-feedback-nilanga2022"
FILE = "student_feedback_doc_level.csv"
# Words a person would accept in the name of a theme about each aspect (the data set's categories).
ACCEPTED = {
    "Lecturer": {
        "lecturer",
        "lecturers",
        "lecture",
        "lectures",
        "teacher",
        "professor",
        "prof",
        "sir",
        "madam",
        "miss",
        "teaching",
        "teaches",
        "taught",
        "explain",
        "explains",
        "explained",
        "explanation",
        "explanations",
        "instructor",
        "class",
        "guy",
        "knows",
        "teach",
        "accent",
    },
    "Course_Structure": {
        "structure",
        "structured",
        "lab",
        "labs",
        "practical",
        "practicals",
        "session",
        "sessions",
        "time",
        "schedule",
        "workload",
        "work",
        "load",
        "series",
        "organized",
        "organised",
        "tutorial",
        "tutorials",
        "hours",
        "idle",
    },
    "Course": {"course", "module", "subject", "class", "content", "oop", "design", "patterns"},
    "Subject_Material": {
        "notes",
        "slides",
        "material",
        "materials",
        "examples",
        "example",
        "content",
        "codes",
        "code",
        "videos",
        "book",
        "books",
        "design",
        "patterns",
    },
    "CA": {
        "assignment",
        "assignments",
        "project",
        "projects",
        "quiz",
        "quizzes",
        "submission",
        "submissions",
        "marks",
        "lab",
        "labs",
        "ca",
        "report",
        "deadline",
        "homework",
        "activities",
        "tests",
        "grading",
    },
    "End_Exam": {"exam", "exams", "paper", "papers", "final", "questions"},
    "Learning_Environment": {"hall", "room", "environment", "facilities", "lab", "labs", "ac", "noise"},
    "Others": {
        "comments",
        "comment",
        "none",
        "nothing",
        "thanks",
        "thank",
        "aspects",
        "negative",
        "suggestion",
        "suggestions",
        "bad",
        "word",
    },
}
PHRASES = [
    "the pace was fine",
    "more examples would help",
    "the slides were late",
    "the lab was crowded",
    "I liked the tutorials",
    "the exam was long",
    "the assignments took ages",
    "please record the lectures",
    "the lecturer was helpful",
    "group work was hard",
    "the notes were clear",
    "more practice questions",
    "office hours helped",
    "the projector failed",
    "feedback came late",
    "the quizzes were useful",
    "the reading list is long",
    "the videos helped",
    "marking was unfair",
    "the room was cold",
    "deadlines clashed",
    "the project was fun",
    "the textbook is outdated",
    "labs need more tutors",
    "the course was well organised",
    "too much theory",
    "the online forum was quiet",
    "coursework was heavy",
    "the demos were great",
    "the timetable changed often",
    "revision session please",
    "the examples were old",
    "I learnt a lot",
    "the module felt rushed",
    "more coding practice",
    "the wifi kept dropping",
    "past papers would help",
    "the guest talk was good",
    "the handouts had typos",
    "the mid term was easy",
]
TEMPLATES = [
    "The lectures this week",
    "Overall the module",
    "About the labs",
    "Regarding the exam",
    "On the assignments",
    "The lecturer",
    "Course materials",
    "The tutorials",
]


def read_aspects(folder: Path) -> list[tuple[str, str]] | None:
    """(text, aspect categories joined by |) of every comment, or None when the data set is absent."""
    path = folder / FILE
    if not path.exists():
        return None
    with path.open(encoding="utf-8", newline="") as fh:
        return [(r["text"], r["aspect_categories"]) for r in csv.DictReader(fh)]


def make_course(texts: list[str], *, modules: int = 1, weeks: int = 1):  # noqa: ANN201 - Course
    from datetime import timedelta

    from courses.models import Course
    from courses.services import ensure_modules, get_or_create_course

    Course.objects.filter(code=COURSE).delete()
    course, _ = get_or_create_course(COURSE, actor=None, title="Benchmark: themes")
    titles = [f"Module {i + 1}" for i in range(modules)]
    by_title = ensure_modules(course, titles)
    add_feedback(
        course,
        texts,
        [by_title[titles[i % modules]] for i in range(len(texts))],
        [course.created_at - timedelta(weeks=i % weeks) for i in range(len(texts))],
    )
    return course


def add_feedback(course, texts: list[str], modules: list, when: list) -> None:  # noqa: ANN001
    from courses.models import Feedback, FeedbackSource
    from courses.services import build_feedback

    # Built as ingest builds them (redacted and screened: theme names come from comments the screen cleared
    # only) but stored directly, not through ingest: loading is not what is measured, and it must not be announced.
    Feedback.objects.bulk_create(
        [build_feedback(course, text=t, module=m, source=FeedbackSource.IMPORT, submitted_at=w)
         for t, m, w in zip(texts, modules, when, strict=True)],
        batch_size=5000,
    )


def recompute(course) -> tuple[object, float]:  # noqa: ANN001
    from classifiers.themes.services import run_theme_run, start_theme_run

    started = time.perf_counter()
    run = run_theme_run(start_theme_run(course, actor=None, dispatch=False).pk)
    if run.status != "succeeded":
        sys.exit(f"the theme run failed: {run.error}")
    return run, time.perf_counter() - started


def product_labels(course) -> tuple[list[int], list[str], list[int], object]:  # noqa: ANN001
    """Feedback ids in id order, their texts, their theme index (-1: other) and the stored vectors."""
    from classifiers.themes.embeddings import course_vectors
    from classifiers.themes.models import Theme, ThemeMember
    from courses.models import Feedback

    data = course_vectors(Feedback.objects.filter(course=course))
    themes = list(Theme.objects.filter(course=course, status="active").order_by("-size", "pk"))
    index = {t.pk: i for i, t in enumerate(themes)}
    member = dict(ThemeMember.objects.filter(theme__course=course).values_list("feedback_id", "theme_id"))
    return data.ids, [t.display_name for t in themes], [index.get(member.get(i), -1) for i in data.ids], data


def bertopic_runs(texts: list[str], vectors, runs: int) -> list[list[int]] | None:  # noqa: ANN001
    """BERTopic with its default settings, one run per seed 0 … runs-1. Its UMAP is the default one
    (n_neighbors=15, n_components=5, min_dist=0, cosine) given a random_state, BERTopic's own advice for
    reproducible topics; its scores swing widely with the seed, hence several runs and their mean."""
    try:
        from bertopic import BERTopic
        from umap import UMAP
    except ImportError:
        return None
    out = []
    for seed in range(runs):
        reducer = UMAP(
            n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", low_memory=False, random_state=seed
        )
        topics, _ = BERTopic(umap_model=reducer).fit_transform(texts, vectors)  # default HDBSCAN(10), c-TF-IDF
        out.append([int(t) for t in topics])
    return out


def scores(truth: list[str], labels: list[int]) -> tuple[float, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return (
        round(float(normalized_mutual_info_score(truth, labels)), 4),
        round(float(adjusted_rand_score(truth, labels)), 4),
    )


def name_check(names: list[str], labels: list[int], aspects: list[str]) -> list[dict]:
    """Per theme, the aspect it is about — the one most over-represented in it against the whole set (among
    aspects with at least 5 of its comments; the majority would be "Lecturer" almost everywhere) — and the words
    of its name a person would accept for that aspect (an empty list: the name misses it)."""
    from collections import Counter

    overall = Counter(aspects)
    out = []
    for i, name in enumerate(names):
        counts = Counter(a for a, label in zip(aspects, labels, strict=True) if label == i)
        size = sum(counts.values())
        candidates = {a: n / size / (overall[a] / len(aspects)) for a, n in counts.items() if n >= 5}
        if not candidates:
            continue
        aspect = max(candidates, key=candidates.get)
        words = {w.lower() for w in name.replace(",", " ").split()}
        out.append(
            {
                "theme": name,
                "aspect": aspect,
                "lift": round(candidates[aspect], 2),
                "aspect_share": round(counts[aspect] / size, 3),
                "accepted_keywords": sorted(words & ACCEPTED.get(aspect, set())),
            }
        )
    return out


def nilanga(opts: argparse.Namespace) -> dict:
    rows = read_aspects(opts.data)
    if rows is None:
        print(f"SKIPPED: {opts.data / FILE} not found (the Nilanga student-feedback set lives in ../shared/data)")
        return {"skipped": "data set not found"}
    course = make_course([t for t, _ in rows])
    run, wall = recompute(course)
    ids, names, labels, data = product_labels(course)
    text_of = dict(zip(ids, data.texts, strict=True))
    from courses.models import Feedback

    aspect_of = dict(
        zip(
            Feedback.objects.filter(course=course).order_by("pk").values_list("pk", flat=True),
            [a for _, a in rows],
            strict=True,
        )
    )
    single = [k for k, i in enumerate(ids) if aspect_of[i] and "|" not in aspect_of[i]]
    truth = [aspect_of[ids[k]] for k in single]
    result = {
        "dataset": "student-feedback-nilanga2022",
        "comments": len(ids),
        "evaluated": len(single),
        "themes": len(names),
        "other_share": round(labels.count(-1) / len(labels), 3),
    }
    result["nmi"], result["ari"] = scores(truth, [labels[k] for k in single])
    from dataclasses import replace

    from classifiers.ml.themes import cluster
    from classifiers.themes.services import theme_params

    # For the record: the product's clustering on the same vectors with other k-means seeds (the product
    # always uses seed 0, which is what makes a recomputation over the same data give the same themes).
    seeded = [cluster(data.vectors, replace(theme_params(), seed=s)).labels for s in range(opts.bertopic_runs)]
    each = [scores(truth, [int(lab[k]) for k in single]) for lab in seeded]
    result["product_seeds_nmi"] = round(sum(n for n, _ in each) / len(each), 4) if each else None
    result["product_seeds_ari"] = round(sum(a for _, a in each) / len(each), 4) if each else None
    result["product_seeds_nmi_range"] = [min(n for n, _ in each), max(n for n, _ in each)] if each else None
    result["product_seeds_ari_range"] = [min(a for _, a in each), max(a for _, a in each)] if each else None
    from sklearn.cluster import HDBSCAN, AgglomerativeClustering

    hdb = HDBSCAN(min_cluster_size=10, copy=True).fit_predict(data.vectors)
    result["sklearn_hdbscan_nmi"], result["sklearn_hdbscan_ari"] = scores(truth, [int(hdb[k]) for k in single])
    ward = AgglomerativeClustering(n_clusters=max(2, len(names))).fit_predict(data.vectors)
    result["sklearn_ward_nmi"], result["sklearn_ward_ari"] = scores(truth, [int(ward[k]) for k in single])
    started = time.perf_counter()
    topics = bertopic_runs([text_of[i] for i in ids], data.vectors, opts.bertopic_runs)
    if topics is None:
        print("SKIPPED: BERTopic is not installed (pip install bertopic): no BERTopic comparison in this run")
        result.update(bertopic_nmi=None, bertopic_ari=None, bertopic="skipped: not installed")
    else:
        each = [scores(truth, [t[k] for k in single]) for t in topics]
        result["bertopic_runs"] = [
            {"nmi": n, "ari": a, "topics": len(set(t) - {-1}), "outlier_share": round(t.count(-1) / len(t), 3)}
            for (n, a), t in zip(each, topics, strict=True)
        ]
        result["bertopic_nmi"] = round(sum(n for n, _ in each) / len(each), 4)
        result["bertopic_ari"] = round(sum(a for _, a in each) / len(each), 4)
        result["bertopic_nmi_range"] = [min(n for n, _ in each), max(n for n, _ in each)]
        result["bertopic_ari_range"] = [min(a for _, a in each), max(a for _, a in each)]
        result["bertopic_s"] = round((time.perf_counter() - started) / len(each), 1)
    result["theme_names"] = names
    result["theme_aspects"] = name_check(names, [labels[k] for k in single], truth)
    result["names_with_an_accepted_keyword"] = (
        f"{sum(bool(t['accepted_keywords']) for t in result['theme_aspects'])} of {len(result['theme_aspects'])}"
    )
    result.update(
        product_s=round(wall, 1),
        embed_s=run.stats.get("embed_s"),
        cluster_s=run.stats.get("cluster_s"),
        embedding_model=run.stats.get("embedding_model"),
    )
    return result


def synthetic(n: int, *, start: int = 0, seed: int = 1) -> list[str]:
    """Comments `start` … `start + n - 1` of a fixed sequence: each a Nilanga comment (or a template) with one of
    PHRASES appended, every combination once (115,560 distinct texts with the data set), in a shuffled order."""
    rows = read_aspects(DATA)
    bases = [t.rstrip(". ") for t, _ in rows] if rows else TEMPLATES
    texts = [f"{bases[i % len(bases)]}; {PHRASES[(i // len(bases)) % len(PHRASES)]}." for i in range(start, start + n)]
    random.Random(seed).shuffle(texts)
    return texts


def at_scale(opts: argparse.Namespace) -> dict:
    from django.utils import timezone

    from classifiers.themes.models import ThemeMember

    note = (
        f"{opts.rows} synthetic comments: Nilanga comments each with one of {len(PHRASES)} short phrases appended"
        if read_aspects(DATA)
        else f"{opts.rows} synthetic comments from templates (the Nilanga set is absent)"
    )
    print(note, file=sys.stderr)
    course = make_course(synthetic(opts.rows), modules=8, weeks=12)
    run, wall = recompute(course)
    module = course.modules.first()
    add_feedback(course, synthetic(1000, start=opts.rows, seed=2), [module] * 1000, [timezone.now()] * 1000)
    again, update = recompute(course)
    return {
        "rows": opts.rows,
        "data": note,
        "wall_s": round(wall, 1),
        "update_s": round(update, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "themes": run.stats.get("themes"),
        "other": run.stats.get("other"),
        "first": {k: run.stats.get(k) for k in ("embed_s", "load_s", "cluster_s", "write_s")},
        "update": {k: again.stats.get(k) for k in ("embed_s", "load_s", "cluster_s", "write_s")},
        "update_changes": again.changes,
        "members": ThemeMember.objects.filter(theme__course=course).count(),
        "theme_names": product_labels(course)[1][:12],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "embedding_model": run.stats.get("embedding_model"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA, help="the Nilanga data set's folder")
    parser.add_argument(
        "--bertopic-runs",
        type=int,
        default=8,
        help="BERTopic runs, UMAP seeds 0 … N-1 (the mean and range are reported)",
    )
    parser.add_argument("--rows", type=int, help="synthetic comments for the scale run (e.g. 100000)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark course")
    opts = parser.parse_args()
    setup()
    from courses.models import Course

    try:
        result = at_scale(opts) if opts.rows else nilanga(opts)
    finally:
        if not opts.keep:
            Course.objects.filter(code=COURSE).delete()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
