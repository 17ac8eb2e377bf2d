"""Project search latency (the use case, no HTTP) and the write cost of the index triggers, on SQLite or PostgreSQL.

python -m bench.search_latency [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--docs 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from bench.harness import pct
from domain.enums import ChatMessageStatus, ChatRole, Role, TaskType
from domain.model import ChatMessage, Conversation, Project, ProjectMember, Requirement, Task, User
from domain.permissions import Viewer
from domain.search import SearchKind
from persistence.search_schema import KINDS, drop_kind_statements, kind_statements
from server.container import build_container
from server.settings import Settings

WORDS = [
    "password",
    "reset",
    "email",
    "link",
    "expire",
    "token",
    "audit",
    "admin",
    "account",
    "rate",
    "limit",
    "hour",
    "login",
    "session",
    "invoice",
    "export",
    "pdf",
    "report",
    "deploy",
    "cluster",
    "rollback",
    "approve",
    "review",
    "test",
    "coverage",
    "queue",
    "worker",
    "retry",
    "cache",
    "search",
    "index",
    "user",
    "role",
    "project",
    "task",
    "requirement",
    "budget",
    "schedule",
    "notify",
    "webhook",
    "upload",
    "storage",
    "checksum",
    "version",
    "branch",
    "merge",
]
QUERIES = ["password reset", '"reset link"', "invoice OR report", "token -session", "deploy rollback approve"]


# Each word is one of WORDS with this probability, else filler from a large vocabulary (see --topic-share).
TOPIC_SHARE = [0.02]


def word(rng: random.Random) -> str:
    return rng.choice(WORDS) if rng.random() < TOPIC_SHARE[0] else f"filler{rng.randrange(20_000)}"


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(word(rng) for _ in range(n)) + "."


async def seed(container, docs: int, rng: random.Random) -> tuple[Viewer, Project, float]:
    """Per project (two): `docs` / 2 requirements, one task each, and a conversation of 10 messages about every
    tenth requirement; returns the write seconds."""
    now = container.services.deps.clock.now()
    user = User(username="bench", email="b@example.com", password_hash="!", role=Role.DEVELOPER, created_at=now)
    user.updated_at = now
    projects = [Project(name=f"p{i}", created_by=user.id, created_at=now, updated_at=now) for i in range(2)]
    started = time.perf_counter()
    async with container.services.deps.uow() as uow:
        uow.users.add(user)
        for project in projects:
            uow.projects.add(project)
            uow.members.add(ProjectMember(project_id=project.id, user_id=user.id, added_at=now))
            for _ in range(docs // 2):
                req = Requirement(
                    project_id=project.id,
                    title=sentence(rng, 5),
                    content=" ".join(sentence(rng, 12) for _ in range(8)),
                    created_by=user.id,
                    created_at=now,
                    updated_at=now,
                )
                uow.requirements.add(req)
                uow.tasks.add(
                    Task(
                        requirement_id=req.id,
                        project_id=project.id,
                        name=sentence(rng, 4),
                        description=sentence(rng, 20),
                        task_type=TaskType.BACKEND,
                        created_at=now,
                        updated_at=now,
                    )
                )
                if rng.random() < 0.1:
                    talk = Conversation(
                        project_id=project.id,
                        subject_type="Requirement",
                        subject_id=req.id,
                        title=sentence(rng, 4),
                        created_by=user.id,
                        created_at=now,
                        updated_at=now,
                    )
                    uow.conversations.add(talk)
                    for seq in range(1, 11):
                        uow.chat_messages.add(
                            ChatMessage(
                                conversation_id=talk.id,
                                project_id=project.id,
                                role=ChatRole.USER if seq % 2 else ChatRole.ASSISTANT,
                                seq=seq,
                                content=sentence(rng, 15 if seq % 2 else 60),
                                status=ChatMessageStatus.COMPLETE,
                                created_at=now,
                                updated_at=now,
                            )
                        )
        await uow.commit()
    return Viewer(user_id=user.id, role=user.role), projects[0], time.perf_counter() - started


async def run(url: str, docs: int, rounds: int, with_index: bool) -> None:
    from persistence.migrations import upgrade

    upgrade(url)
    container = build_container(Settings(database_url=url, data_dir=Path(tempfile.mkdtemp())))
    dialect = container.engine.dialect.name
    try:
        if not with_index:
            async with container.engine.begin() as connection:
                for spec in KINDS:
                    for statement in drop_kind_statements(spec, dialect):
                        await connection.execute(text(statement))
        viewer, project, wrote = await seed(container, docs, random.Random(7))
        label = "with index triggers" if with_index else "without triggers"
        async with container.engine.connect() as connection:
            talks = (await connection.execute(text("SELECT count(*) FROM conversations"))).scalar()
        print(
            f"{dialect}: wrote {docs} requirements + {docs} tasks + {talks} conversations of 10 messages ({label}) "
            f"in {wrote:.2f} s"
        )
        if not with_index:
            return
        async with container.engine.begin() as connection:
            for spec in KINDS:  # the backfill path of the migration, timed on the same rows
                for statement in drop_kind_statements(spec, dialect):
                    await connection.execute(text(statement))
            started = time.perf_counter()
            for spec in KINDS:
                for statement in kind_statements(spec, dialect):
                    await connection.execute(text(statement))
            print(f"{dialect}: backfill of {2 * docs + 11 * talks} rows took {time.perf_counter() - started:.2f} s")
        async with container.engine.connect() as connection:  # statistics, as autovacuum would gather them
            await connection.execute(text("ANALYZE"))
            await connection.commit()
        timings = []
        for _ in range(rounds):  # a reference on the same machine: one plain read through the same checks
            started = time.perf_counter()
            await container.services.projects.get(viewer, project.id)
            timings.append((time.perf_counter() - started) * 1000)
        print(f"{dialect}: reference projects.get p50={pct(timings, 50):6.2f} ms p95={pct(timings, 95):6.2f} ms")
        for kinds, query in [(None, q) for q in QUERIES] + [([SearchKind.CONVERSATION], q) for q in QUERIES]:
            timings, hits = [], 0
            for _ in range(rounds):
                started = time.perf_counter()
                found = await container.services.search.search(viewer, project.id, query, kinds, first=20)
                hits = len(found)
                timings.append((time.perf_counter() - started) * 1000)
            label = "conversations" if kinds else "all kinds"
            print(
                f"{dialect}: {query!r:28} {label:13} hits={hits:3} "
                f"p50={pct(timings, 50):6.2f} ms p95={pct(timings, 95):6.2f} ms"
            )
    finally:
        await container.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", help="an admin URL; a throw-away database is created on it")
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument(
        "--topic-share", type=float, default=0.02, help="share of words from the topic vocabulary (1: all match)"
    )
    args = parser.parse_args()
    TOPIC_SHARE[0] = args.topic_share
    for with_index in (False, True):
        if args.postgres:
            from bench.read_vs_postgraphile import throwaway_database

            with throwaway_database(args.postgres) as url:
                asyncio.run(run(url, args.docs, args.rounds, with_index))
        else:
            with tempfile.TemporaryDirectory() as folder:
                asyncio.run(run(f"sqlite:///{folder}/bench.db", args.docs, args.rounds, with_index))


if __name__ == "__main__":
    main()
