"""Where one survey submission's time goes, in process: the same survey, model version and POST bodies as
bench/surveys.py, sent through Django's whole stack (middleware, CSRF, view, on-commit receivers) by the
test client, without a network or a server in between.

Usage: .venv/bin/python bench/surveys_profile.py [--submissions 500] [--survey identified|anonymous] [--top 30]
                                                 [--timer cpu|wall]
Run it with the server's settings (DEBUG=false and what bench/surveys.py sets), else DEBUG's query log counts.
Prints the SQL statements and Redis commands of one submission, the CPU time per submission with its split
by phase, then cProfile's top entries (cumulative and own time). Last line: JSON.
"""

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import setup  # noqa: E402
from surveys import CSRF, build_survey, write_bodies  # noqa: E402


def redis_commands() -> tuple[list[str], object]:
    """Record every Redis command sent (rate limits, broker publishes) until the returned undo is called."""
    import redis

    sent: list[str] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):  # noqa: ANN001, ANN202
        chunks = command if isinstance(command, list) else [command]
        sent.append(b"".join(c if isinstance(c, bytes) else bytes(c) for c in chunks)[:80].decode("latin-1"))
        return original(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counting

    def undo() -> None:
        redis.connection.AbstractConnection.send_packed_command = original

    return sent, undo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--survey", default="identified", choices=["identified", "anonymous"])
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--dump", help="also write the raw profile here (pstats format, e.g. for snakeviz)")
    parser.add_argument(
        "--timer",
        default="cpu",
        choices=["cpu", "wall"],
        help="cpu: what the process computes (waits on Postgres and Redis left out); wall: all",
    )
    args = parser.parse_args()
    setup()
    import tempfile

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from courses.models import Course, SurveyResponse

    setup_test_environment()  # the test client needs it (ALLOWED_HOSTS gets "testserver")
    course, survey, questions = build_survey(anonymous=args.survey == "anonymous")
    path = Path(tempfile.mkstemp(prefix="bench-surveys-profile-")[1])
    write_bodies(survey, questions, args.submissions + 21, path)
    bodies = [dict(parse_qsl(line.strip())) for line in path.read_text().splitlines()]
    path.unlink()
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = CSRF
    url = f"/surveys/{survey.pk}/"

    def post(body: dict):  # noqa: ANN202 - urlencoded, as browsers and wrk send it (the test client's default is multipart)
        return client.post(url, urlencode(body), content_type="application/x-www-form-urlencoded")

    try:
        for body in bodies[:20]:  # warm: survey definition, screening policy, model, connections
            assert post(body).status_code == 303
        sent, undo = redis_commands()
        with CaptureQueriesContext(connection) as queries:
            assert post(bodies[20]).status_code == 303
        undo()
        print(f"--- one submission: {len(queries)} SQL statements, {len(sent)} Redis writes")
        for q in queries.captured_queries:
            print(f"  SQL {q['time']}s  {q['sql'][:160]}")
        for command in sent:
            print(f"  REDIS {command!r}")
        # Timed without the profiler (its overhead inflates everything), then profiled on fresh bodies.
        half = args.submissions // 2
        plain, profiled = bodies[21 : 21 + half], bodies[21 + half : 21 + 2 * half]
        cpu, wall = time.process_time(), time.perf_counter()
        for body in plain:
            post(body)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        profiler = cProfile.Profile(time.process_time if args.timer == "cpu" else time.perf_counter)
        profiler.enable()
        for body in profiled:
            post(body)
        profiler.disable()
        stored = SurveyResponse.objects.filter(survey=survey).count()
        out = io.StringIO()
        if args.dump:
            profiler.dump_stats(args.dump)
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())
    finally:
        Course.objects.filter(pk=course.pk).delete()
    print(
        json.dumps(
            {
                "bench": "surveys_profile",
                "survey": args.survey,
                "submissions": 2 * half,
                "stored": stored - 21,
                "sql_per_submission": len(queries),
                "redis_writes_per_submission": len(sent),
                # In process (this one Python process: Django, psycopg, redis-py), unprofiled half.
                "cpu_ms_per_submission": round(1000 * cpu / half, 2),
                "wall_ms_per_submission": round(1000 * wall / half, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
