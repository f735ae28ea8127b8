"""Survey submission load test against the real server: gunicorn (2 workers by default, 127.0.0.1) driven by wrk.

Usage: .venv/bin/python bench/surveys.py [--duration 60] [--connections 8] [--max-rate 600]
                                         [--survey identified|anonymous] [--worker-class gthread|sync]
                                         [--workers 2] [--threads 4]
Needs Debian's `wrk`. Creates a throw-away course and survey in the configured database, builds one
signed invitation per planned request (so every POST is a distinct student), runs a short /healthz
baseline, then the submissions for `--duration` seconds (bounded: at most duration x max-rate
requests), and afterwards counts what Postgres holds. Last line: JSON.

Everything that runs on arrival is on: screening (the default screen, installed at start-up) and, for the
default identified survey, on-arrival classification: the course gets an active model version of its
sentiment schema, so every submission queues its classification task (anonymous answers wait for the
next day's sweep by design, so `--survey anonymous` queues none). No worker runs: the queued tasks are
counted in the broker (`classify_tasks_queued`) and do nothing once the bench's version is deleted.
The CPU seconds each process group spent during the submissions (gunicorn workers, all PostgreSQL and
Redis processes, wrk) are reported per submission: on 2 shared cores that, not the wall time, is the cost.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, setup  # noqa: E402

CSRF = "benchCsrfSecret0123456789abcdefX"  # 32 characters: what a browser holds after GETting the form
SOCKET_ERRORS = ("connect_errors", "read_errors", "write_errors", "timeouts")
WORDS = (
    "lectures",
    "labs",
    "pace",
    "slides",
    "tutor",
    "exam",
    "deadline",
    "helpful",
    "confusing",
    "great",
    "examples",
    "feedback",
    "project",
    "forum",
    "quiz",
    "notes",
    "reading",
    "clear",
    "rushed",
    "week",
)


def build_survey(*, anonymous: bool):
    from datetime import timedelta

    from django.utils import timezone

    from classifiers.models import LabelSchema, ModelVersion
    from courses.models import Course, Question, QuestionKind, Survey

    course = Course.objects.create(code=f"BENCH-SURVEY-{int(time.time())}", title="Survey benchmark")
    # An active version of the course's sentiment schema (made with the course): on-arrival classification
    # then queues a task per submission, as in a course whose model serves. No files: no worker loads it.
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    ModelVersion.objects.create(
        schema=schema,
        course=course,
        number=1,
        path=f"bench/{course.code}",
        base_model="bench",
        label_names=list(schema.labels.values_list("name", flat=True)),
        is_active=True,
        activated_at=timezone.now(),
    )
    survey = Survey.objects.create(
        course=course,
        title="Benchmark survey",
        opens_at=timezone.now() - timedelta(1),
        closes_at=timezone.now() + timedelta(1),
        is_anonymous=anonymous,
    )
    prompts = [
        (QuestionKind.LIKERT, "The lectures help me learn."),
        (QuestionKind.LIKERT, "The pace is right."),
        (QuestionKind.TEXT, "What works well?"),
        (QuestionKind.TEXT, "What should change?"),
    ]
    questions = [
        Question.objects.create(survey=survey, position=i, kind=k, prompt=p, required=True, max_length=1000)
        for i, (k, p) in enumerate(prompts)
    ]
    return course, survey, questions


def write_bodies(survey, questions, count: int, path: Path) -> None:
    from courses.surveys.identity import make_invitation

    rng = random.Random(11)
    with path.open("w") as out:
        for i in range(count):
            texts = [" ".join(rng.choices(WORDS, k=rng.randint(5, 40))) for _ in range(2)]
            if i % 20 == 0:
                texts[1] += f" write to me at student{i}@uni.example.edu"  # exercises redaction
            data = {
                "csrfmiddlewaretoken": CSRF,
                "invite": make_invitation(survey),
                f"q{questions[0].pk}": rng.randint(1, 5),
                f"q{questions[1].pk}": rng.randint(1, 5),
                f"q{questions[2].pk}": texts[0],
                f"q{questions[3].pk}": texts[1],
            }
            out.write(urlencode(data) + "\n")


def start_server(port: int, log: Path, worker_class: str, workers: int = 2, threads: int = 4) -> subprocess.Popen:
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SESSION_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": "ERROR",
        # Every request comes from 127.0.0.1 here; in production one IP is a whole campus NAT at most.
        "SURVEY_RATE_LIMIT_PER_IP": "100000000",
        # Production refuses to key respondents with "" (DEBUG off); the bench's keys are thrown away.
        "SURVEY_RESPONDENT_SECRET": os.environ.get("SURVEY_RESPONDENT_SECRET") or "bench-only-" + os.urandom(16).hex(),
    }
    cmd = [
        str(ROOT / ".venv/bin/gunicorn"),
        "eduplatform.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--backlog",
        "256",
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 180  # generous: other jobs may share the machine
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()  # noqa: S310 - loopback
            return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.3)
    stop_server(proc)
    raise SystemExit(f"gunicorn did not start:\n{log.read_text()[-2000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime (fields 14 and 15 of proc(5))


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_snapshot(server: subprocess.Popen) -> dict[str, float]:
    """CPU seconds so far: the gunicorn workers, every PostgreSQL and Redis process on the machine (other
    databases' too: run on a quiet machine, see the load average), and the machine as a whole."""
    busy = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return {
        "gunicorn": sum(_cpu_s(pid) for pid in [server.pid, *_children(server.pid)]),
        "postgres": sum(_cpu_s(pid) for pid in _pids_named("postgres")),
        "redis": sum(_cpu_s(pid) for pid in _pids_named("redis-server")),
        "machine": (sum(busy) - busy[3] - busy[4]) * TICK_S,  # all but idle and iowait
    }


def worker_rss_mb(server: subprocess.Popen) -> list[float]:
    """Resident memory (MB) of each gunicorn worker process now."""
    sizes = []
    for pid in _children(server.pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        kb = next((int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS:")), 0)
        sizes.append(round(kb / 1024, 1))
    return sorted(sizes)


def queued_messages(queue: str) -> int:
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.CELERY_BROKER_URL).llen(queue)


def wrk(args: list[str]) -> dict:
    out = subprocess.run(["wrk", *args], capture_output=True, text=True, timeout=600, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRKJSON "))
    return json.loads(line.removeprefix("WRKJSON "))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--max-rate", type=int, default=600, help="bounds the request count: duration x rate")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument(
        "--survey",
        default="identified",
        choices=["identified", "anonymous"],
        help="identified: answers are classified on arrival; anonymous: by the next day's sweep",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    setup()
    from django.db import connection
    from django.db.models import Count

    from courses.models import Answer, Course, Feedback, SurveyResponse

    load_before = os.getloadavg()
    course, survey, questions = build_survey(anonymous=args.survey == "anonymous")
    tmp = Path(tempfile.mkdtemp(prefix="bench-surveys-"))
    bodies, lua = tmp / "bodies.txt", str(ROOT / "bench/lua/submit.lua")
    planned = args.duration * args.max_rate
    write_bodies(survey, questions, planned, bodies)
    connection.close()
    queued_before = queued_messages("inference")
    started = time.monotonic()
    proc = start_server(args.port, tmp / "gunicorn.log", args.worker_class, args.workers, args.threads)
    start_s = time.monotonic() - started
    try:
        base = f"http://127.0.0.1:{args.port}"
        # Baseline: the cheapest Django request (/healthz) on the same server, same connections.
        baseline = subprocess.run(
            ["wrk", "-t2", f"-c{args.connections}", "-d10s", f"{base}/healthz"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        baseline_rps = float(next(ln for ln in baseline.splitlines() if ln.startswith("Requests/sec")).split()[1])
        # Submissions stop at an absolute deadline; wrk runs 5 s longer so that those in flight complete.
        launched = time.time()
        deadline = int(launched) + args.duration + 1
        cpu_before, wrk_before = cpu_snapshot(proc), os.times()
        result = wrk(
            [
                "-t2",
                f"-c{args.connections}",
                f"-d{args.duration + 6}s",
                "--timeout",
                "5s",
                "-s",
                lua,
                f"{base}/surveys/{survey.pk}/",
                "--",
                str(bodies),
                "2",
                f"/surveys/{survey.pk}/",
                f"csrftoken={CSRF}",
                str(deadline),
            ]
        )
        cpu_after, wrk_after = cpu_snapshot(proc), os.times()
        window = deadline - launched
        rss = worker_rss_mb(proc)
    finally:
        stop_server(proc)
    queued = queued_messages("inference") - queued_before
    stored = SurveyResponse.objects.filter(survey=survey).count()
    feedback = Feedback.objects.filter(course=course).count()
    screening = dict(Feedback.objects.filter(course=course).values_list("screening").annotate(n=Count("pk")))
    answers = Answer.objects.filter(response__survey=survey).count()
    server_errors = [ln for ln in (tmp / "gunicorn.log").read_text().splitlines() if "Traceback" in ln]
    Course.objects.filter(pk=course.pk).delete()
    shutil.rmtree(tmp)
    seconds = window
    submissions = result["accepted"] + result["c4xx"] + result["c5xx"]
    rps = submissions / seconds
    cpu = {k: cpu_after[k] - cpu_before[k] for k in cpu_before}
    cpu["wrk"] = (
        wrk_after.children_user + wrk_after.children_system - wrk_before.children_user - wrk_before.children_system
    )
    per_submission = {f"{k}_ms": round(1000 * v / max(submissions, 1), 2) for k, v in cpu.items()}
    print(
        json.dumps(
            {
                "bench": "surveys",
                "server": f"gunicorn {args.worker_class}, {args.workers} workers"
                + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
                + ", 127.0.0.1",
                "server_start_s": round(start_s, 1),
                "worker_rss_mb": rss,
                "tool": "wrk",
                "survey": args.survey,
                "connections": args.connections,
                "duration_s": round(seconds, 1),
                "planned_max": planned,
                "rate": round(rps, 1),
                "p50_ms": round(result["p50_us"] / 1000, 1),
                "p90_ms": round(result["p90_us"] / 1000, 1),
                "p99_ms": round(result["p99_us"] / 1000, 1),
                "max_ms": round(result["max_us"] / 1000, 1),
                "5xx": result["c5xx"],
                "4xx": result["c4xx"],
                "socket_errors": {k: result[k] for k in SOCKET_ERRORS},
                "accepted": result["accepted"],
                "stored": stored,
                # An accepted answer missing from the database is lost. Requests in flight when wrk stops are
                # stored but never acknowledged (at most one per connection): stored, not lost.
                "lost": max(0, result["accepted"] - stored),
                "stored_unacknowledged": max(0, stored - result["accepted"]),
                "feedback_stored": feedback,
                "feedback_expected": 2 * stored,
                "answers_stored": answers,
                "screening": screening,
                "classify_tasks_queued": queued,
                "server_tracebacks": len(server_errors),
                "healthz_rate": baseline_rps,
                "ratio_to_healthz": round(rps / baseline_rps, 3),
                # CPU per submission (ms) while submitting; `machine_ms` is all CPU of the machine (2 cores: 2000 ms/s).
                "cpu_per_submission": per_submission,
                "loadavg_before": [round(x, 2) for x in load_before],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                "meets_target": rps >= 300
                and result["p99_us"] < 250_000
                and result["c5xx"] == 0
                and result["accepted"] <= stored <= result["accepted"] + args.connections
                and feedback == 2 * stored
                and seconds >= 59,
            }
        )
    )


if __name__ == "__main__":
    main()
