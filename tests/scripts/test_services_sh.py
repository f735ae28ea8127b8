"""scripts/services.sh on a machine of stubs: a fresh Debian/Ubuntu box gets PostgreSQL and Redis from apt-get
(the new cluster trusting 127.0.0.1, as DATABASE_URL's default needs), an installed one is only started, and a
machine where nothing can be installed is told what to do. No real package is installed or started."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT

TOOLS = ("bash", "env", "grep", "ls", "sed", "seq", "sleep", "sort", "tail", "cat", "touch", "mkdir", "chmod")

STUBS = {
    "id": "echo 0",  # root, as on a fresh machine's CI runner (sudo is not stubbed)
    "pg_isready": '[ -e "$STATE/pg_running" ]',
    "redis-cli": '[ -e "$STATE/redis_running" ] && echo PONG',
    "apt-get": r'''echo "$*" >> "$STATE/apt.log"
[ -e "$STATE/apt_broken" ] && exit 100
case "$*" in
  *"install"*postgresql*)
    hba="$PG_CONF_DIR/15/main/pg_hba.conf"; ctl="$STUBS/pg_ctlcluster"
    mkdir -p "$PG_CONF_DIR/15/main"
    printf '# TYPE DATABASE USER ADDRESS METHOD\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$hba"
    printf '#!/bin/bash\necho "$*" >> "$STATE/pg_ctlcluster.log"\n' > "$ctl"
    printf 'case "$*" in *start*) touch "$STATE/pg_running";; esac\n' >> "$ctl"
    chmod +x "$ctl";;
  *"install"*redis-server*)
    printf '#!/bin/bash\ntouch "$STATE/redis_running"\n' > "$STUBS/redis-server"; chmod +x "$STUBS/redis-server";;
esac''',
}


@pytest.fixture
def machine(tmp_path):
    """(run, state): a PATH of stubs and a few real tools only, so nothing on this machine is used."""
    stubs, tools, state, conf = (tmp_path / name for name in ("stubs", "tools", "state", "etc-postgresql"))
    for folder in (stubs, tools, state, conf):
        folder.mkdir()
    for tool in TOOLS:
        (tools / tool).symlink_to(shutil.which(tool))
    for name, body in STUBS.items():
        (stubs / name).write_text(f"#!/bin/bash\n{body}\n")
        (stubs / name).chmod(0o755)
    env = {"PATH": f"{stubs}:{tools}", "STATE": str(state), "STUBS": str(stubs), "PG_CONF_DIR": str(conf)}

    def run(**extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([shutil.which("bash"), str(ROOT / "scripts" / "services.sh")], env={**env, **extra},
                              capture_output=True, text=True, timeout=120)

    return run, state, stubs, conf


def _installed_already(stubs: Path, conf: Path, state: Path) -> None:
    (conf / "15" / "main").mkdir(parents=True)
    (conf / "15" / "main" / "pg_hba.conf").write_text("host all all 127.0.0.1/32 scram-sha-256\n")
    for name, body in {"pg_ctlcluster": f'echo "$*" >> {state}/pg_ctlcluster.log; touch {state}/pg_running',
                       "redis-server": f"touch {state}/redis_running"}.items():
        (stubs / name).write_text(f"#!/bin/bash\n{body}\n")
        (stubs / name).chmod(0o755)


def test_a_fresh_machine_gets_both_from_apt_and_a_cluster_trusting_loopback(machine):
    run, state, _, conf = machine
    done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installing postgresql with apt-get" in done.stdout and "installing redis-server" in done.stdout
    installs = (state / "apt.log").read_text().splitlines()
    assert installs == ["install -y -q postgresql", "install -y -q redis-server"]
    hba = (conf / "15" / "main" / "pg_hba.conf").read_text().splitlines()
    assert hba[:2] == ["host all all 127.0.0.1/32 trust", "host all all ::1/128 trust"]
    assert "15 main start" in (state / "pg_ctlcluster.log").read_text()
    assert (state / "pg_running").exists() and (state / "redis_running").exists()


def test_installed_services_are_started_without_apt_and_their_configuration_untouched(machine):
    run, state, stubs, conf = machine
    _installed_already(stubs, conf, state)
    done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (state / "apt.log").exists()
    assert (conf / "15" / "main" / "pg_hba.conf").read_text() == "host all all 127.0.0.1/32 scram-sha-256\n"
    assert done.stdout.splitlines() == ["starting PostgreSQL", "starting Redis"]


def test_running_services_are_left_alone(machine):
    run, state, _, _ = machine
    (state / "pg_running").touch()
    (state / "redis_running").touch()
    done = run()
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize("why", ["SERVICES_NO_INSTALL", "apt_broken"])
def test_a_machine_where_nothing_can_be_installed_is_told_what_to_do(machine, why):
    run, state, _, _ = machine
    if why == "apt_broken":
        (state / "apt_broken").touch()
    done = run(**({"SERVICES_NO_INSTALL": "1"} if why == "SERVICES_NO_INSTALL" else {}))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "ERROR: PostgreSQL is not running on 127.0.0.1:5432 and could not be installed or started: install "
        "PostgreSQL 15+ (apt-get install postgresql) or set DATABASE_URL to a server")
    assert (state / "apt.log").exists() == (why == "apt_broken")
