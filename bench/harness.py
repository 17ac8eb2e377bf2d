"""Shared benchmark plumbing: seeding a project tree, running `rdflow serve` in a subprocess, percentiles."""

from __future__ import annotations

import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx

from domain.enums import Priority, Role, TaskType

TASK_TYPES = list(TaskType)
PRIORITIES = list(Priority)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_settings(redis_url: str, prefix: str) -> dict[str, object]:
    """Settings (field names) of a production rdflow on `redis_url` under `prefix`, with fresh secrets."""
    from cryptography.fernet import Fernet

    return {
        "env": "production",
        "jwt_secret": secrets.token_urlsafe(32),
        "fernet_key": Fernet.generate_key().decode(),
        "redis_url": redis_url,
        "redis_prefix": prefix,
    }


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else values[0]


async def seed(
    database_url: str,
    data_dir: Path,
    *,
    projects: int,
    requirements: int,
    tasks: int,
    role: Role = Role.DEVELOPER,
    settings: dict[str, object] | None = None,
    users: int = 0,
    audit_entries: int = 0,
) -> str:
    """Migrate, then write projects x requirements x tasks through rdflow's own unit of work, the viewer a member of
    every project; returns the viewer's access token, signed per `settings` (Settings field names). Task types and
    priorities cycle so filters select a share; creation times are one microsecond apart so every ordering is total
    and the same on any server. `users` more users and `audit_entries` audit log rows (one per requirement created,
    cycling) for the shapes that list them."""
    from auth.tokens import ACCESS
    from domain.model import AuditEntry, Project, ProjectMember, Requirement, Task, User
    from persistence.migrations import upgrade
    from server.container import build_container
    from server.settings import Settings

    upgrade(database_url)
    container = build_container(Settings(**{**(settings or {}), "database_url": database_url, "data_dir": data_dir}))
    try:
        now = container.services.deps.clock.now()
        tick = iter(now + timedelta(microseconds=i) for i in range(10**9))
        async with container.services.deps.uow() as uow:
            user = User(
                username="bench",
                email="bench@example.com",
                password_hash="!",
                role=role,
                created_at=now,
                updated_at=now,
            )
            uow.users.add(user)
            for p in range(projects):
                at = next(tick)
                project = Project(name=f"project {p}", created_by=user.id, created_at=at, updated_at=at)
                uow.projects.add(project)
                uow.members.add(ProjectMember(project_id=project.id, user_id=user.id, added_at=at))
                for r in range(requirements):
                    at = next(tick)
                    req = Requirement(
                        project_id=project.id,
                        title=f"req {r}",
                        content="c",
                        created_by=user.id,
                        created_at=at,
                        updated_at=at,
                    )
                    uow.requirements.add(req)
                    for t in range(tasks):
                        at = next(tick)
                        uow.tasks.add(
                            Task(
                                requirement_id=req.id,
                                project_id=project.id,
                                name=f"task {t}",
                                task_type=TASK_TYPES[t % len(TASK_TYPES)],
                                priority=PRIORITIES[(p + r + t) % len(PRIORITIES)],
                                created_at=at,
                                updated_at=at,
                            )
                        )
            for u in range(users):
                at = next(tick)
                uow.users.add(
                    User(
                        username=f"user{u}",
                        email=f"user{u}@example.com",
                        password_hash="!",
                        role=list(Role)[u % len(Role)],
                        created_at=at,
                        updated_at=at,
                    )
                )
            for a in range(audit_entries):
                uow.audit.add(
                    AuditEntry(
                        action="requirement.created",
                        entity_type="Requirement",
                        actor_id=user.id,
                        entity_id=str(a),
                        after={"title": f"req {a}"},
                        at=next(tick),
                    )
                )
            await uow.commit()
        return container.tokens.issue(user, ACCESS, now)[0]
    finally:
        await container.aclose()


def _cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and its direct children (uvicorn or cluster workers), from Linux's /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def settle(pid: int, timeout: float = 60) -> None:
    """Wait until a server has finished what a load run left in flight (requests wrk abandoned at its deadline still
    run to the end): its CPU use drops under 10 % of a core over half a second."""
    before, deadline = _cpu_seconds(pid), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _cpu_seconds(pid)
        if now - before < 0.05:
            return
        before = now


def wait_up(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    """Poll `url` until it answers 2xx-4xx; fail fast if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextmanager
def running(
    command: list[str], env: dict[str, str], ready_url: str, log: Path, cwd: str | None = None
) -> Iterator[int]:
    """Run a server subprocess until the block ends, its output appended to `log`; yields its pid."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            wait_up(ready_url, process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; its output is in {log}") from exc
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def rdflow_server(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """`rdflow serve` on a free 127.0.0.1 port with `env` on top of the caller's; yields (base url, pid)."""
    port = free_port()
    env = {"RDFLOW_HOST": "127.0.0.1", "RDFLOW_PORT": str(port), "RDFLOW_LOG_LEVEL": "warning", **env}
    url = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-m", "server.cli", "serve"], env, f"{url}/health", log) as pid:
        yield url, pid
