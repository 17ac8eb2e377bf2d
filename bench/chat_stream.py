"""Benchmark: a streamed chat reply in embedded mode (SQLite, in-process queue and bus, offline assistant):
time from sendMessage to the first delta and to the stored reply, as a follower of the conversation sees them.

.venv/bin/python -m bench.chat_stream [--replies 30] [--tasks 20]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.harness import pct


async def run(replies: int, tasks: int) -> None:
    from domain.enums import Role, TaskType
    from domain.model import Project, ProjectMember, Requirement, Task, User
    from domain.permissions import Viewer
    from domain.services.live import Follower
    from persistence.migrations import upgrade
    from server.container import build_container
    from server.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        container = build_container(Settings(database_url=url, data_dir=Path(tmp)))
        services = container.services
        now = services.deps.clock.now()
        user = User(username="bench", email="b@example.com", password_hash="!", role=Role.DEVELOPER)
        project = Project(name="bench", created_by=user.id, created_at=now, updated_at=now)
        req = Requirement(
            project_id=project.id,
            title="Password reset",
            content="Users reset their password by email; a reset link expires after 30 minutes.",
            created_by=user.id,
            created_at=now,
            updated_at=now,
        )
        async with services.deps.uow() as uow:
            user.created_at = user.updated_at = now
            uow.users.add(user)
            uow.projects.add(project)
            uow.members.add(ProjectMember(project_id=project.id, user_id=user.id, added_at=now))
            uow.requirements.add(req)
            for t in range(tasks):
                uow.tasks.add(
                    Task(
                        requirement_id=req.id,
                        project_id=project.id,
                        name=f"task {t} reset link",
                        task_type=TaskType.BACKEND,
                        created_at=now,
                        updated_at=now,
                    )
                )
            await uow.commit()
        viewer = Viewer(user_id=user.id, role=Role.DEVELOPER, username="bench")
        conversation = await services.chat.start(viewer, project.id, "Requirement", req.id, None)
        first_delta: list[float] = []
        stored: list[float] = []
        deltas: list[int] = []
        try:
            updates = services.chat.updates(Follower(viewer), conversation.id)
            assert (await anext(updates)).kind == "SNAPSHOT"
            for _ in range(replies):
                start = time.perf_counter()
                reply = await services.chat.send(viewer, conversation.id, "What does the requirement ask?")
                count = 0
                async for update in updates:
                    if update.kind == "DELTA" and update.message_id == reply.id:
                        if count == 0:
                            first_delta.append(time.perf_counter() - start)
                        count += 1
                    elif update.kind == "MESSAGE" and update.message_id == reply.id and update.message:
                        if update.message.status.value == "STREAMING":
                            continue
                        stored.append(time.perf_counter() - start)
                        deltas.append(count)
                        break
            await updates.aclose()
        finally:
            await container.aclose()
    ms = [1000 * s for s in first_delta], [1000 * s for s in stored]
    print(f"replies={replies} context tasks={tasks} deltas/reply={sum(deltas) / len(deltas):.0f}")
    for name, values in zip(("first delta", "stored reply"), ms, strict=True):
        print(f"{name:>13}: p50 {pct(values, 50):7.1f} ms  p95 {pct(values, 95):7.1f} ms  max {max(values):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=30)
    parser.add_argument("--tasks", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.replies, args.tasks))


if __name__ == "__main__":
    main()
