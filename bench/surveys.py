"""Survey submission load test against the real server: gunicorn (2 workers, 127.0.0.1) driven by wrk.

Usage: .venv/bin/python bench/surveys.py [--duration 60] [--connections 8] [--max-rate 600]
Needs Debian's `wrk`. Creates a throw-away course and survey in the configured database, builds one
signed invitation per planned request (so every POST is a distinct student), runs a short /healthz
baseline, then the submissions for `--duration` seconds (bounded: at most duration x max-rate
requests), and afterwards counts what Postgres holds. Last line: JSON.
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
WORDS = ("lectures", "labs", "pace", "slides", "tutor", "exam", "deadline", "helpful", "confusing", "great",
         "examples", "feedback", "project", "forum", "quiz", "notes", "reading", "clear", "rushed", "week")


def build_survey():
    from datetime import timedelta

    from django.utils import timezone

    from courses.models import Course, Question, QuestionKind, Survey

    course = Course.objects.create(code=f"BENCH-SURVEY-{int(time.time())}", title="Survey benchmark")
    survey = Survey.objects.create(course=course, title="Benchmark survey", opens_at=timezone.now() - timedelta(1),
                                   closes_at=timezone.now() + timedelta(1), is_anonymous=True)
    prompts = [(QuestionKind.LIKERT, "The lectures help me learn."), (QuestionKind.LIKERT, "The pace is right."),
               (QuestionKind.TEXT, "What works well?"), (QuestionKind.TEXT, "What should change?")]
    questions = [Question.objects.create(survey=survey, position=i, kind=k, prompt=p, required=True, max_length=1000)
                 for i, (k, p) in enumerate(prompts)]
    return course, survey, questions


def write_bodies(survey, questions, count: int, path: Path) -> None:
    from courses.surveys.identity import make_invitation

    rng = random.Random(11)
    with path.open("w") as out:
        for i in range(count):
            texts = [" ".join(rng.choices(WORDS, k=rng.randint(5, 40))) for _ in range(2)]
            if i % 20 == 0:
                texts[1] += f" write to me at student{i}@uni.example.edu"  # exercises redaction
            data = {"csrfmiddlewaretoken": CSRF, "invite": make_invitation(survey),
                    f"q{questions[0].pk}": rng.randint(1, 5), f"q{questions[1].pk}": rng.randint(1, 5),
                    f"q{questions[2].pk}": texts[0], f"q{questions[3].pk}": texts[1]}
            out.write(urlencode(data) + "\n")


def start_server(port: int, log: Path, worker_class: str) -> subprocess.Popen:
    env = {**os.environ, "DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "CSRF_COOKIE_SECURE": "false",
           "SESSION_COOKIE_SECURE": "false", "SECURE_HSTS_SECONDS": "0", "LOG_LEVEL": "ERROR",
           # Every request comes from 127.0.0.1 here; in production one IP is a whole campus NAT at most.
           "SURVEY_RATE_LIMIT_PER_IP": "100000000"}
    cmd = [str(ROOT / ".venv/bin/gunicorn"), "eduplatform.wsgi:application", "--bind", f"127.0.0.1:{port}",
           "--workers", "2", "--worker-class", worker_class, "--threads", "4", "--backlog", "256"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 30
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
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    setup()
    from django.db import connection

    from courses.models import Answer, Course, Feedback, SurveyResponse

    load_before = os.getloadavg()
    course, survey, questions = build_survey()
    tmp = Path(tempfile.mkdtemp(prefix="bench-surveys-"))
    bodies, lua = tmp / "bodies.txt", str(ROOT / "bench/lua/submit.lua")
    planned = args.duration * args.max_rate
    write_bodies(survey, questions, planned, bodies)
    connection.close()
    proc = start_server(args.port, tmp / "gunicorn.log", args.worker_class)
    try:
        base = f"http://127.0.0.1:{args.port}"
        # Baseline: the cheapest Django request (/healthz) on the same server, same connections.
        baseline = subprocess.run(["wrk", "-t2", f"-c{args.connections}", "-d10s", f"{base}/healthz"],
                                  capture_output=True, text=True, timeout=60, check=True).stdout
        baseline_rps = float(next(ln for ln in baseline.splitlines() if ln.startswith("Requests/sec")).split()[1])
        # Submissions stop at an absolute deadline; wrk runs 5 s longer so that those in flight complete.
        launched = time.time()
        deadline = int(launched) + args.duration + 1
        result = wrk(["-t2", f"-c{args.connections}", f"-d{args.duration + 6}s", "--timeout", "5s", "-s", lua,
                      f"{base}/surveys/{survey.pk}/", "--", str(bodies), "2", f"/surveys/{survey.pk}/",
                      f"csrftoken={CSRF}", str(deadline)])
        window = deadline - launched
    finally:
        stop_server(proc)
    stored = SurveyResponse.objects.filter(survey=survey).count()
    feedback = Feedback.objects.filter(course=course).count()
    answers = Answer.objects.filter(response__survey=survey).count()
    server_errors = [ln for ln in (tmp / "gunicorn.log").read_text().splitlines() if "Traceback" in ln]
    Course.objects.filter(pk=course.pk).delete()
    shutil.rmtree(tmp)
    seconds = window
    submissions = result["accepted"] + result["c4xx"] + result["c5xx"]
    rps = submissions / seconds
    print(json.dumps({
        "bench": "surveys", "server": f"gunicorn {args.worker_class}, 2 workers, 127.0.0.1", "tool": "wrk",
        "connections": args.connections, "duration_s": round(seconds, 1), "planned_max": planned,
        "rps": round(rps, 1), "p50_ms": round(result["p50_us"] / 1000, 1), "p90_ms": round(result["p90_us"] / 1000, 1),
        "p99_ms": round(result["p99_us"] / 1000, 1), "max_ms": round(result["max_us"] / 1000, 1),
        "errors_5xx": result["c5xx"], "errors_4xx": result["c4xx"],
        "socket_errors": {k: result[k] for k in SOCKET_ERRORS},
        "accepted": result["accepted"], "stored": stored, "lost": result["accepted"] - stored,
        "feedback_stored": feedback, "feedback_expected": 2 * result["accepted"], "answers_stored": answers,
        "server_tracebacks": len(server_errors), "baseline_healthz_rps": baseline_rps,
        "ratio_to_baseline": round(rps / baseline_rps, 3), "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "meets_target": rps >= 300 and result["p99_us"] < 250_000 and result["c5xx"] == 0 and stored ==
        result["accepted"] and feedback == 2 * result["accepted"] and seconds >= 59,
    }))


if __name__ == "__main__":
    main()
