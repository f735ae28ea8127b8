"""The web process never loads the ML stack: what gunicorn imports (settings, apps, admin, URLconf) and what a
request may import to queue work (the task modules) pull in no torch, transformers, scikit-learn or ONNX
Runtime. Each of those costs seconds of start-up and hundreds of MB per web worker; only workers use them."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT

ML_STACK = ("torch", "transformers", "sklearn", "onnxruntime")
# gunicorn's import (django.setup(): every app, admin.autodiscover()), the URLconf with its includes, and the
# task modules a request imports to queue work (surveys: the on-arrival drain).
WEB_MODULES = ("eduplatform.wsgi", "eduplatform.urls", "classifiers.tasks", "courses.lti.tasks")


def test_web_process_imports_no_ml_library_even_when_it_screens_a_comment(tmp_path):
    code = (
        "import sys\n"
        f"for name in {WEB_MODULES!r}:\n"
        "    __import__(name)\n"
        "from django.contrib import admin\n"
        "from django.urls import reverse\n"
        "assert len(admin.site._registry) > 10, 'the admin was not loaded'\n"
        "reverse('surveys:survey', kwargs={'survey_id': 1})\n"
        # What every survey answer goes through at ingest: the default screen, its model included (a fresh
        # model cache: its arrays are written by a subprocess, never by this process).
        "from classifiers.ml.screening import screen_text\n"
        "assert screen_text('you are an idiot', hold_threshold=0.5).verdict == 'held'\n"
        f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({ML_STACK!r}))))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "eduplatform.settings", "MODEL_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "", f"the web process imported {done.stdout.strip()}"
    assert list((tmp_path / "screening").glob("*.npz")), "the screen's arrays were not written to the model cache"
