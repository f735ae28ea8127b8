"""Bulk ingestion through the REST API against the real server (gunicorn, 2 workers on 127.0.0.1).

Usage: .venv/bin/python bench/api_bulk.py [--batches 30] [--batch-size 1000] [--baseline 300] [--clients 2]
Sends `--batches` bulk requests of `--batch-size` items each, then (the baseline, same run, same server)
`--baseline` single-item requests; counts what Postgres stored. Last line: JSON with items_per_s,
accepted, stored, the baseline's items/s and the ratio. The benchmark course and user are deleted.

Throttle rates are raised for the run (API_THROTTLE_*): the throttles still run, they just never refuse.
"""

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, setup  # noqa: E402

WORDS = (
    "lecture", "labs", "pace", "slides", "tutor", "exam", "deadline", "helpful", "confusing", "great",
    "boring", "clear", "rushed", "examples", "feedback", "project", "forum", "quiz", "notes", "reading",
)


def make_items(count: int, start: int, modules: list[int], rng: random.Random) -> list[dict]:
    items = []
    for i in range(start, start + count):
        text = " ".join(rng.choices(WORDS, k=rng.randint(6, 40)))
        if i % 50 == 0:
            text += f" mail me at student{i}@uni.example.edu"
        items.append({"text": text, "external_id": f"api-{i}", "module": modules[i % len(modules)],
                      "submitted_at": f"2026-0{i % 6 + 1}-1{i % 9}T10:00:00Z"})
    return items


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false",
           "CSRF_COOKIE_SECURE": "false", "API_THROTTLE_USER": "1000000/min",
           "API_THROTTLE_FEEDBACK": "1000000/min", "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "eduplatform.wsgi:application", "--workers", "2",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("gunicorn did not start within 60 s")


def post_all(port: int, path: str, token: str, bodies: list[dict], clients: int) -> tuple[float, int]:
    """POST every body with `clients` threads; returns (seconds, items accepted)."""
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def worker(chunk: list[dict]) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        accepted = 0
        for body in chunk:
            conn.request("POST", path, json.dumps(body), headers)
            response = conn.getresponse()
            payload = json.loads(response.read())
            if response.status != 201:
                raise SystemExit(f"{path}: HTTP {response.status}: {str(payload)[:500]}")
            accepted += payload.get("accepted", 1)
        conn.close()
        return accepted

    chunks = [bodies[i::clients] for i in range(clients)]
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        accepted = sum(pool.map(worker, chunks))
    return time.perf_counter() - start, accepted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=300, help="single-item requests for the baseline")
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from courses.models import Course, CourseMembership, Feedback, Module, Role

    stamp = int(time.time())
    course = Course.objects.create(code=f"BENCH-API-{stamp}", title="API benchmark")
    modules = [Module.objects.create(course=course, title=f"Week {i}", position=i).pk for i in range(1, 11)]
    user = get_user_model().objects.create_user(f"bench-api-{stamp}")
    CourseMembership.objects.create(user=user, course=course, role=Role.INSTRUCTOR)
    token = Token.objects.create(user=user).key
    connection.close()
    rng = random.Random(7)
    bulk_bodies = [{"items": make_items(args.batch_size, b * args.batch_size, modules, rng)}
                   for b in range(args.batches)]
    offset = args.batches * args.batch_size
    single_bodies = make_items(args.baseline, offset, modules, rng)
    port = free_port()
    server = start_server(port)
    try:
        api = f"/api/courses/{course.code}/feedback/"
        bulk_s, accepted = post_all(port, api + "bulk/", token, bulk_bodies, args.clients)
        stored = Feedback.objects.filter(course=course).count()
        single_s, single_accepted = post_all(port, api, token, single_bodies, args.clients)
        stored_all = Feedback.objects.filter(course=course).count()
    finally:
        server.terminate()
        server.wait(timeout=30)
        course.delete()
        user.delete()
        connection.close()
    bulk_rate, single_rate = accepted / bulk_s, single_accepted / single_s
    print(json.dumps({
        "bench": "api_bulk", "server": "gunicorn --workers 2 127.0.0.1", "clients": args.clients,
        "batch_size": args.batch_size, "requests": args.batches, "accepted": accepted, "stored": stored,
        "seconds": round(bulk_s, 2), "items_per_s": round(bulk_rate),
        "baseline_single_items": single_accepted, "baseline_stored": stored_all - stored,
        "baseline_items_per_s": round(single_rate, 1), "ratio_vs_single": round(bulk_rate / single_rate, 1),
        "cpu_cores": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
