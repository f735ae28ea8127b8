# EduPlatform: `make demo` and `make test` set up everything they need and are safe to run twice.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export PYTHONUNBUFFERED := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: help venv services db env lint check test test-fast demo serve worker chromium clean bench-surveys

help:
	@echo "make demo   - set up, load the demo course and serve http://127.0.0.1:8000 with a worker"
	@echo "make test   - set up, lint, check, and run the whole test suite"

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned: the CPU wheel on local disk (any other spec downloads GBs of CUDA).
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

env: .env
.env:
	@echo "# Local development settings (made by make; not for production)" > .env
	@echo "SECRET_KEY=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')" >> .env
	@echo "DEBUG=true" >> .env
	@echo "made .env"

services:
	@bash scripts/services.sh

db: services venv env
	@$(PY) scripts/create_db.py
	@$(PY) manage.py migrate --noinput -v 0

lint: venv
	$(VENV)/bin/ruff check .

check: db
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

chromium:
	@command -v chromium >/dev/null || (apt-get install -y -q chromium >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) || \
	  echo "WARNING: could not install chromium; browser tests will be skipped"

test: lint check chromium
	$(VENV)/bin/pytest -p no:cacheprovider --create-db

test-fast: db
	$(VENV)/bin/pytest -m "not slow"

demo: db
	$(PY) manage.py seed_demo
	# Once the demo model is active: wait for its classification run and print classified / total comments.
	$(PY) manage.py classify DATA201 --wait --if-model
	$(PY) manage.py lti_tool_info --base-url http://127.0.0.1:8000
	@if [ -z "$$DEMO_NO_SERVE" ]; then $(MAKE) --no-print-directory serve; fi

serve: db
	@echo "Serving http://127.0.0.1:8000 (admin at /admin/) with a Celery worker and beat; Ctrl-C stops both."
	@trap 'kill 0' EXIT; \
	  $(VENV)/bin/celery -A eduplatform worker -B --schedule var/celerybeat-schedule -Q default,training,inference --loglevel=info --concurrency=2 & \
	  $(PY) manage.py runserver 127.0.0.1:8000

# Survey load test: gunicorn (2 workers) on 127.0.0.1 driven by Debian's wrk; last line JSON.
bench-surveys: db
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null || \
	  (apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null)
	$(PY) bench/surveys.py

clean:
	rm -rf $(VENV) .pytest_cache var
