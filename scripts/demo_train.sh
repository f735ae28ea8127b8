#!/usr/bin/env bash
# `make demo`, after seed_demo: train the demo course's sentiment model on a real Celery worker, classify
# every demo comment with it, compute the course's themes on the same worker, print where the run, its
# evaluation report and the course report are, and a link to answer the demo survey as a student.
# Safe to run twice: an active model trained on exactly the current labels is not trained again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
COURSE=DATA201
mkdir -p var
LOG=var/demo-worker.log
: > "$LOG"
.venv/bin/celery -A eduplatform worker -Q default,training,inference --concurrency=1 --loglevel=INFO \
  --hostname "demo-$$@%h" --without-gossip --without-mingle --logfile "$LOG" &
WORKER=$!
trap 'kill "$WORKER" 2>/dev/null || true; wait "$WORKER" 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  grep -q "ready\." "$LOG" && break
  kill -0 "$WORKER" 2>/dev/null || { echo "the demo's Celery worker did not start; see $LOG" >&2; exit 1; }
  sleep 1
done
grep -q "ready\." "$LOG" || { echo "the demo's Celery worker was not ready after 120 s; see $LOG" >&2; exit 1; }
echo "Training the $COURSE sentiment model on the worker (a minute or two on a laptop CPU)..."
$PY manage.py train "$COURSE" --schema sentiment --if-changed --wait
echo "Classifying every $COURSE comment with the active model..."
$PY manage.py classify "$COURSE" --schema sentiment --wait
echo "Finding what $COURSE students talk about (themes) on the worker..."
$PY manage.py themes --course "$COURSE" --wait
$PY manage.py demo_summary "$COURSE"
$PY manage.py demo_student_link
