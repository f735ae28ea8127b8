"""Report benchmark: a course of N feedback rows (40 modules, 52 weeks, predictions, themes) in Postgres.

Times the report page over HTTP (gunicorn, 2 sync workers, as in production; warm, >= 200 requests) against a
naive baseline in the same run: the same numbers computed from the live tables on every request (one
GROUP BY over all feedback, no summary). Also counts queries per page for 40 modules and for 3.
The course has a completed theme recomputation (bench/_report_themes.py: 36 shown themes, every row in a
theme or "other", a hidden and a small theme, a previous run for "new this term"); the bench checks that the
page shows its themes section, and times the section and the whole report when not cached.
Usage: .venv/bin/python bench/reports.py [--rows 1000000] [--requests 300] [--no-themes] [--keep]
Last line: JSON with rows, p50_ms, p95_ms, queries_per_page, naive_ms and the ratio, themes figures.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, setup  # noqa: E402
from _report_themes import seed_themes  # noqa: E402

MODULES, WEEKS = 40, 52

# Feedback in SQL (generate_series): bounded time, no Python loop over a million rows; screened clear, so
# quotable. Module m leans negative as weeks pass when m % 7 == 0, so alerts and trends have something to show.
FEEDBACK_SQL = """
INSERT INTO courses_feedback (course_id, module_id, source, original_text, redacted_text, language,
                              submitted_at, split, created_at, text_was_cut, screening, screening_reasons,
                              screened_with)
SELECT %(course)s, m.ids[1 + (g %% %(modules)s)], 'import', t.txt, t.txt, 'en',
       %(start)s::timestamptz + ((g::bigint * 7919) %% (%(weeks)s * 7 * 24)) * interval '1 hour', '', now(),
       false, 'clear', '[]', 'bench'
FROM generate_series(1, %(rows)s) g
CROSS JOIN (SELECT array_agg(id ORDER BY position) AS ids FROM courses_module WHERE course_id = %(course)s) m
CROSS JOIN LATERAL (SELECT 'the ' || (array['lectures','labs','pace','slides','tutor','exam','forum'])[1 + g %% 7]
                    || ' were ' || (array['clear','rushed','helpful','confusing','great','boring'])[1 + (g / 7) %% 6]
                    || ' ' || md5(g::text) AS txt) t
"""
PREDICTION_SQL = """
INSERT INTO classifiers_prediction (feedback_id, schema_id, model_version_id, label_id, label_names, scores,
                                    confidence, truncated, created_at)
SELECT f.id, %(schema)s, %(version)s, l.ids[1 + least(2, floor(r.x * 3 * (1 - lean.v))::int)], '[]', '{}',
       0.34 + 0.66 * r.y, false, now()
FROM courses_feedback f
JOIN courses_module mo ON mo.id = f.module_id
CROSS JOIN (SELECT array_agg(id ORDER BY position) AS ids FROM classifiers_label WHERE schema_id = %(schema)s) l
CROSS JOIN LATERAL (SELECT (hashint4(f.id::int) & 65535) / 65536.0 AS x,
                           (hashint4(f.id::int + 7) & 65535) / 65536.0 AS y) r
CROSS JOIN LATERAL (SELECT CASE WHEN mo.position %% 7 = 0
                    THEN 0.5 * extract(epoch FROM f.submitted_at - %(start)s::timestamptz) / (%(weeks)s * 604800)
                    ELSE 0 END AS v) lean
WHERE f.course_id = %(course)s
"""
# The naive report: effective labels from the live tables, grouped per request (what the summary avoids).
NAIVE_SQL = """
SELECT f.module_id, date_trunc('week', f.submitted_at)::date, COALESCE(h.label_id, p.label_id), count(*)
FROM courses_feedback f
LEFT JOIN LATERAL (SELECT al.label_id FROM classifiers_annotation a
                   JOIN classifiers_annotationlabel al ON al.annotation_id = a.id
                   WHERE a.feedback_id = f.id AND a.schema_id = %(schema)s AND a.is_current
                   ORDER BY a.created_at DESC LIMIT 1) h ON true
LEFT JOIN classifiers_prediction p ON p.feedback_id = f.id AND p.model_version_id = %(version)s
WHERE f.course_id = %(course)s GROUP BY 1, 2, 3
"""


def make_course(rows: int, code: str, modules: int = MODULES):  # noqa: ANN201 - models are imported after setup
    from django.db import connection
    from django.utils import timezone

    from classifiers.models import LabelSchema, ModelVersion, TrainingRun
    from courses.models import Course, Module

    course = Course.objects.create(code=code, title="Benchmark course")
    Module.objects.bulk_create(Module(course=course, title=f"Module {i:02d}", position=i) for i in range(modules))
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    run = TrainingRun.objects.create(schema=schema, course=course, status="succeeded", finished_at=timezone.now())
    version = ModelVersion.objects.create(
        schema=schema, course=course, training_run=run, number=1, path="bench", base_model="bench",
        label_names=["negative", "neutral", "positive"], is_active=True, beats_baseline=True,
        metrics={"f1_macro": 0.78, "baseline": {"f1_macro": 0.31}},
    )
    params = {"course": course.pk, "schema": schema.pk, "version": version.pk, "rows": rows,
              "modules": modules, "weeks": WEEKS, "start": "2025-09-01T09:00:00+00:00"}
    with connection.cursor() as cur:
        cur.execute(FEEDBACK_SQL, params)
        cur.execute(PREDICTION_SQL, params)
        cur.execute("ANALYZE courses_feedback; ANALYZE classifiers_prediction")
    return course, schema, version, params


def login_cookie(course) -> str:  # noqa: ANN001
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from courses.models import CourseMembership, Role

    user, _ = get_user_model().objects.get_or_create(username="bench-instructor")
    CourseMembership.objects.get_or_create(user=user, course=course, defaults={"role": Role.INSTRUCTOR})
    session = SessionStore()
    session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def queries_per_page(course) -> int:  # noqa: ANN001
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="bench-instructor"))
    url = reverse("reports:course_report", kwargs={"course_code": course.code})
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def check_page(course, themes: dict | None) -> int:  # noqa: ANN001
    """The page's size in bytes, after checking it shows the themes a report may show and no other."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="bench-instructor"))
    html = client.get(reverse("reports:course_report", kwargs={"course_code": course.code})).content.decode()
    if themes is not None:
        shown = [f"<strong>{name}</strong>" for name in themes["active_shown"]]
        missing = [name for name in shown if name not in html]
        assert "What students talk about" in html and not missing, f"themes not on the page: {missing[:3]}"
        assert "new this term</span>" in html, "no theme marked new this term"
        for what in ("hidden", "small"):  # hidden by staff; under the minimum group size in every module
            assert f"<strong>{themes[what]}</strong>" not in html, f"the {what} theme {themes[what]!r} is shown"
    return len(html.encode())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(port: int) -> subprocess.Popen:
    env = {**os.environ, "DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false",
           "CSRF_COOKIE_SECURE": "false", "LOG_LEVEL": "WARNING"}
    # The production server as the README documents it (runserver is single-process and not what we ship).
    cmd = [str(ROOT / ".venv/bin/gunicorn"), "eduplatform.wsgi:application", "--bind", f"127.0.0.1:{port}",
           "--workers", "2", "--worker-class", "sync"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def time_http(port: int, path: str, cookie: str, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for i in range(n + 20):  # 20 warm-up requests are not counted
        start = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}: {body[:300]!r}")
        if i >= 20:
            times.append((time.perf_counter() - start) * 1000)
    conn.close()
    return times


def pct(values: list[float], q: float) -> float:
    return round(sorted(values)[min(len(values) - 1, int(q * len(values)))], 1)


def cleanup(course_ids: list[int]) -> None:
    from django.db import connection

    with connection.cursor() as cur:  # raw deletes: the ORM cascade would load a million rows first
        cur.execute("DELETE FROM classifiers_thememember WHERE theme_id IN "
                    "(SELECT id FROM classifiers_theme WHERE course_id = ANY(%s))", [course_ids])
        cur.execute("DELETE FROM classifiers_reportcomment WHERE feedback_id IN "
                    "(SELECT id FROM courses_feedback WHERE course_id = ANY(%s))", [course_ids])
        cur.execute("DELETE FROM classifiers_prediction WHERE feedback_id IN "
                    "(SELECT id FROM courses_feedback WHERE course_id = ANY(%s))", [course_ids])
        cur.execute("DELETE FROM courses_feedback WHERE course_id = ANY(%s)", [course_ids])
    from courses.models import Course

    Course.objects.filter(pk__in=course_ids).delete()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--port", type=int, default=0, help="0: a free port (other servers may hold fixed ones)")
    parser.add_argument("--keep", action="store_true", help="keep the generated course")
    parser.add_argument("--no-themes", action="store_true", help="no theme run (the page as before themes)")
    args = parser.parse_args()
    setup()
    from django.core.cache import cache
    from django.db import connection
    from django.urls import reverse

    from classifiers.reports.models import ReportSnapshot
    from classifiers.reports.selectors import module_report, report_from, report_inputs
    from classifiers.themes.selectors import module_themes

    stamp = int(time.time())
    started = time.perf_counter()
    course, schema, version, params = make_course(args.rows, f"BENCH-REPORTS-{stamp}")
    small, _, _, _ = make_course(3 * 52 * 5, f"BENCH-SMALL-{stamp}", modules=3)
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    themes = None if args.no_themes else seed_themes(course)
    themes_seed_s = time.perf_counter() - started
    report = module_report(course, schema)  # cold: builds the summary
    build_ms = ReportSnapshot.objects.get(course=course).build_ms
    # Not cached (after any change of an input): the whole report, and its themes section alone.
    cold, section = [], []
    for _ in range(3):
        inputs = report_inputs(course, schema)
        cache.delete(inputs.key)
        t = time.perf_counter()
        report_from(inputs)
        cold.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        module_themes(course, inputs.snapshot, report.modules, report.weeks, {pk: n for pk, n, _ in inputs.labels})
        section.append((time.perf_counter() - t) * 1000)
    naive = []
    for _ in range(3):
        t = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(NAIVE_SQL, params)
            cur.fetchall()
        naive.append((time.perf_counter() - t) * 1000)
    selector = []
    for _ in range(20):
        t = time.perf_counter()
        module_report(course, schema)
        selector.append((time.perf_counter() - t) * 1000)
    cookie = login_cookie(course)
    login_cookie(small)
    queries = queries_per_page(course)
    queries_small = queries_per_page(small)
    page_bytes = check_page(course, themes)
    connection.close()
    port = args.port or _free_port()
    server = serve(port)
    try:
        path = reverse("reports:course_report", kwargs={"course_code": course.code})
        times = time_http(port, path, cookie, args.requests)
    finally:
        server.terminate()
        server.wait(timeout=20)
    if not args.keep:
        cleanup([course.pk, small.pk])
    naive_ms = round(statistics.median(naive), 1)
    print(json.dumps({
        "bench": "reports", "rows": args.rows, "modules": MODULES, "weeks": WEEKS, "requests": len(times),
        "p50_ms": pct(times, 0.5), "p95_ms": pct(times, 0.95), "max_ms": round(max(times), 1),
        "selector_p50_ms": pct(selector, 0.5), "naive_query_ms": naive_ms,
        "naive_over_selector": round(naive_ms / pct(selector, 0.5), 1),
        "queries_per_page": queries, "queries_per_page_3_modules": queries_small,
        "summary_build_ms": build_ms, "generate_s": round(generate_s, 1), "server": "gunicorn 2 sync workers",
        "themes": themes["themes"] if themes else 0, "theme_members": themes["members"] if themes else 0,
        "themes_seed_s": round(themes_seed_s, 1), "page_kb": round(page_bytes / 1024, 1),
        "cold_report_ms": round(statistics.median(cold), 1),
        "themes_section_cold_ms": round(statistics.median(section), 1),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }))


if __name__ == "__main__":
    main()
