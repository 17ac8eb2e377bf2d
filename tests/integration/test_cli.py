"""The `rdflow` command as an operator runs it: migrate, create-admin (env or prompt), production refusals."""

from __future__ import annotations

import contextlib
import os
import pty
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serving(args: list[str], env: dict[str, str], port: int) -> Iterator[tuple[list[str], int]]:
    """`rdflow serve ARGS` answering /health on `port` for the block: (a list that gets its output once stopped, its
    process id)."""
    import httpx

    server = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json() == {"status": "ok"}:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail(f"rdflow serve {args} did not answer /health on {port}")
        yield output, server.pid
    finally:
        server.terminate()
        output.append(server.communicate(timeout=30)[0])


def _serve_until_healthy(args: list[str], env: dict[str, str], port: int) -> str:
    """Start `rdflow serve ARGS`, wait for /health on `port`, stop it; returns its output."""
    with _serving(args, env, port) as (output, _):
        pass
    return output[0]


def _get_health(sock: socket.socket) -> bytes:
    """One GET /health on an open connection: the whole response (headers and body may arrive in separate reads)."""
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(65536) or pytest.fail(f"the connection closed mid-response: {response!r}")
    head, _, body = response.partition(b"\r\n\r\n")
    length = int(next(h for h in head.lower().split(b"\r\n") if h.startswith(b"content-length:")).split(b":")[1])
    while len(body) < length:
        body += sock.recv(65536) or pytest.fail(f"the connection closed mid-body: {response!r}")
    return head + b"\r\n\r\n" + body


def test_an_idle_keep_alive_connection_outlives_a_clients_own_idle_timeout(data_env):
    """httpx drops idle connections after 5 s and uvicorn's default closes them after 5 s: a request sent on one just
    as the server closed it came back as a reset (a flaky browser test). The server now waits longer than clients."""
    port = _free_port()
    with _serving(["--port", str(port)], data_env, port), socket.create_connection(("127.0.0.1", port), 10) as sock:
        assert _get_health(sock).startswith(b"HTTP/1.1 200")
        time.sleep(6)
        assert _get_health(sock).startswith(b"HTTP/1.1 200")
    shorter = {**data_env, "RDFLOW_HTTP_KEEPALIVE_S": "1"}
    with _serving(["--port", str(port)], shorter, port), socket.create_connection(("127.0.0.1", port), 10) as sock:
        assert _get_health(sock).startswith(b"HTTP/1.1 200")
        time.sleep(2)
        assert sock.recv(65536) == b"", "the server closes an idle connection after RDFLOW_HTTP_KEEPALIVE_S"


def test_serve_flags_override_the_environment(data_env):
    port, env_port = _free_port(), _free_port()
    output = _serve_until_healthy(
        ["--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        {**data_env, "RDFLOW_PORT": str(env_port), "RDFLOW_HOST": "0.0.0.0", "RDFLOW_WORKERS": "1"},
        port,
    )
    assert f"http://127.0.0.1:{port}/graphql" in output and "2 worker processes" in output, output
    assert output.count("Started server process") == 2, output


def test_serve_refuses_bad_flags(data_env):
    for flags in (["--port", "http"], ["--port", "70000"], ["--workers", "0"]):
        done = rdflow("serve", *flags, env=data_env)
        assert done.returncode == 2 and "Traceback" not in done.stderr, (flags, done.stderr)
        assert f"argument {flags[0]}" in done.stderr and "unrecognized" not in done.stderr, done.stderr


def test_production_serves_one_worker_per_core_unless_told(monkeypatch):
    from cryptography.fernet import Fernet

    from server.cli import serving_settings
    from server.settings import Settings

    for key in ("RDFLOW_WORKERS", "RDFLOW_HOST", "RDFLOW_PORT"):
        monkeypatch.delenv(key, raising=False)
    prod = {"env": "production", "jwt_secret": "s" * 40, "fernet_key": Fernet.generate_key().decode()}
    cores = os.cpu_count() or 1
    assert serving_settings(Settings(**prod, redis_url="redis://cache:6379/0")).workers == cores
    assert serving_settings(Settings(**prod, redis_url="redis://cache:6379/0"), workers=3).workers == 3
    monkeypatch.setenv("RDFLOW_WORKERS", "2")
    assert serving_settings(Settings(**prod, redis_url="redis://cache:6379/0")).workers == 2
    monkeypatch.delenv("RDFLOW_WORKERS")
    # Without Redis each process has its own events and jobs: one process unless asked.
    assert serving_settings(Settings(**prod)).workers == 1
    assert serving_settings(Settings()).workers == 1
    flagged = serving_settings(Settings(), host="0.0.0.0", port=9000)
    assert (flagged.host, flagged.port) == ("0.0.0.0", 9000)


def test_migrate_tells_a_newcomer_how_to_sign_in(data_env):
    fresh = rdflow("migrate", env=data_env)
    assert fresh.returncode == 0 and "no users yet" in fresh.stdout and "rdflow demo" in fresh.stdout, fresh.stdout
    assert "create-admin" in fresh.stdout
    made = rdflow(
        "create-admin",
        "--username",
        "root",
        "--email",
        "root@example.com",
        env={**data_env, "RDFLOW_ADMIN_PASSWORD": PASSWORD},
    )
    assert made.returncode == 0, made.stderr
    again = rdflow("migrate", env=data_env)
    assert again.returncode == 0 and "no users yet" not in again.stdout, again.stdout


def _sockets_on(pid: int, port: int, state: str) -> set[str]:
    """The inodes of the TCP sockets on local `port` in `state` (01: established, 0A: listening) that the process
    `pid` holds (its fds against the kernel's table)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    held = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, inode = int(fields[1].split(":")[1], 16), fields[9]
        if local_port == port and fields[3] == state and inode in inodes:
            held.add(inode)
    return held


def _worker_pids(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")
def test_every_worker_accepts_a_share_of_a_burst_of_connections(data_env):
    """Two workers: 40 connections opened at once spread over both (each listens on its own SO_REUSEPORT socket).
    On one shared socket the first worker to wake took the whole burst in 2 of 5 tries."""
    port = _free_port()
    for _ in range(3):  # the kernel spreads by the connections' addresses: every try must reach both workers
        with _serving(["--port", str(port), "--workers", "2"], data_env, port) as (_, parent):
            workers = _worker_pids(parent)
            assert len(workers) == 2, workers
            deadline = time.monotonic() + 60  # /health answers once the first worker listens
            while not all(_sockets_on(pid, port, "0A") for pid in workers) and time.monotonic() < deadline:
                time.sleep(0.2)
            first, second = (_sockets_on(pid, port, "0A") for pid in workers)
            assert len(first) == len(second) == 1 and first != second, "each worker listens on a socket of its own"
            socks = [socket.create_connection(("127.0.0.1", port), 10) for _ in range(40)]
            try:
                for sock in socks:
                    assert _get_health(sock).startswith(b"HTTP/1.1 200")
                held = [len(_sockets_on(pid, port, "01")) for pid in workers]
                assert sum(held) == 40 and min(held) >= 5, held
            finally:
                for sock in socks:
                    sock.close()


def test_several_workers_refuse_a_port_another_server_listens_on(data_env):
    """SO_REUSEPORT alone would let a second server on the port take a share of its connections: refused, by name."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as another multi-worker rdflow serve's would
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = rdflow("serve", "--port", str(port), "--workers", "2", env=data_env)
    assert done.returncode == 3, (done.returncode, done.stderr)
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr, done.stderr
