"""classifiers.ml is the Django-free half: bench/ scripts and a GPU box import it without settings."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT

ML_MODULES = ("training", "training_config", "inference", "evaluation", "serving", "agreement", "embeddings", "themes",
              "theme_edits", "screening")


def test_ml_modules_import_in_a_fresh_interpreter_without_loading_django():
    code = (
        "import sys\n"
        f"for name in {ML_MODULES!r}:\n"
        "    __import__('classifiers.ml.' + name)\n"
        "leaked = sorted(m for m in sys.modules\n"
        "                if m == 'django' or m.startswith(('django.', 'courses', 'eduplatform')))\n"
        "print(','.join(leaked))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}  # no DJANGO_SETTINGS_MODULE
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"classifiers.ml imported Django or app code: {done.stdout.strip()}"
