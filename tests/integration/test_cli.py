"""The `rdflow` command as an operator runs it: migrate, create-admin (env or prompt), production refusals."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

PASSWORD = "an operator passphrase 42"


def rdflow(*args: str, env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kw,
    )


@pytest.fixture
def data_env(tmp_path: Path) -> dict[str, str]:
    env = {"RDFLOW_DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    for key in ("REDIS_URL", "RDFLOW_ENV", "JWT_SECRET", "RDFLOW_ADMIN_PASSWORD"):
        os.environ.get(key) and env.setdefault(key, "")
    assert rdflow("migrate", env=env).returncode == 0
    return env


def test_create_admin_from_the_environment(data_env):
    done = rdflow(
        "create-admin",
        "--username",
        "root",
        "--email",
        "root@example.com",
        env={**data_env, "RDFLOW_ADMIN_PASSWORD": PASSWORD},
    )
    assert done.returncode == 0, done.stderr
    assert "created super admin root" in done.stdout and PASSWORD not in done.stdout + done.stderr
    again = rdflow(
        "create-admin",
        "--username",
        "root",
        "--email",
        "root@example.com",
        env={**data_env, "RDFLOW_ADMIN_PASSWORD": PASSWORD},
    )
    assert again.returncode != 0 and "taken" in again.stderr


def test_create_admin_refuses_a_weak_password(data_env):
    done = rdflow(
        "create-admin",
        "--username",
        "root",
        "--email",
        "root@example.com",
        env={**data_env, "RDFLOW_ADMIN_PASSWORD": "short"},
    )
    assert done.returncode != 0 and "at least 10 characters" in done.stderr


def test_create_admin_prompts_without_echo(data_env):
    pid, fd = pty.fork()
    if pid == 0:  # child: a real terminal, as an operator has
        os.environ.update(data_env)
        os.environ.pop("RDFLOW_ADMIN_PASSWORD", None)
        os.execv(
            sys.executable,
            [sys.executable, "-m", "server.cli", "create-admin", "--username", "tty", "--email", "tty@example.com"],
        )
    output = b""
    deadline = time.monotonic() + 60
    answered = 0
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        while answered < 2 and output.count(b"password: ") > answered:
            os.write(fd, PASSWORD.encode() + b"\n")
            answered += 1
    _, status = os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "created super admin tty" in text and PASSWORD not in text


def test_production_refuses_the_default_secret(data_env):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    for secret in ("", "rdflow-development-secret-not-for-production"):
        done = rdflow(
            "serve", env={**data_env, "RDFLOW_ENV": "production", "JWT_SECRET": secret, "RDFLOW_FERNET_KEY": key}
        )
        assert done.returncode != 0 and "JWT_SECRET" in done.stderr and "Traceback" not in done.stderr


def test_production_needs_a_fernet_key(data_env):
    done = rdflow(
        "serve", env={**data_env, "RDFLOW_ENV": "production", "JWT_SECRET": "s" * 40, "RDFLOW_FERNET_KEY": ""}
    )
    assert done.returncode != 0 and "RDFLOW_FERNET_KEY" in done.stderr
    bad = rdflow("serve", env={**data_env, "RDFLOW_FERNET_KEY": "not-a-key"})
    assert bad.returncode != 0 and "32 url-safe base64" in bad.stderr and "Traceback" not in bad.stderr
