"""Summarise a py-spy speedscope profile of an rdflow server: CPU share per cost bucket and the hottest functions.

    .venv/bin/python -m bench.profile_summary FILE.speedscope.json [--top 25]

Each sample goes to the first bucket, in the order below, that any frame of its stack belongs to: so "ORM instance
loading" is all time under SQLAlchemy's ORM loading wherever it was called from, and "graphql-core execution" is
what is left of execution once everything more specific was taken out. Shares sum to 100 %.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

Frame = dict[str, object]


def _in(*parts: str) -> Callable[[Frame], bool]:
    return lambda f: any(p in str(f.get("file", "")) for p in parts)


def _named(file_part: str, *names: str) -> Callable[[Frame], bool]:
    return lambda f: file_part in str(f.get("file", "")) and str(f.get("name", "")).split(" ")[0] in names


BUCKETS: list[tuple[str, Callable[[Frame], bool]]] = [
    ("connection checkout, pool, pre-ping, BEGIN / ROLLBACK", _in("sqlalchemy/pool/")),
    (
        "connection checkout, pool, pre-ping, BEGIN / ROLLBACK",
        _named("sqlalchemy/", "_connection_for_bind", "_begin_impl", "_rollback_impl", "_commit_impl"),
    ),
    ("auth (token verify, viewer lookup)", _in("/auth/request.py", "/auth/tokens.py", "/jwt/")),
    ("graphql-core validation", _in("graphql/validation/")),
    ("graphql-core parsing", _in("graphql/language/")),
    ("ORM instance loading", _in("sqlalchemy/orm/loading.py", "sqlalchemy/orm/state.py", "sqlalchemy/orm/identity.py")),
    ("SQL compile", _in("sqlalchemy/sql/compiler.py", "sqlalchemy/sql/cache_key.py")),
    ("asyncpg driver", _in("asyncpg/", "sqlalchemy/dialects/postgresql/asyncpg.py")),
    ("other SQLAlchemy (session, result, greenlet bridge)", _in("sqlalchemy/", "greenlet")),
    ("JSON encoding", _in("/json/", "orjson")),
    ("rdflow resolvers / persistence / domain", _in("/resolvers/", "/persistence/", "/domain/")),
    ("strawberry", _in("strawberry/")),
    ("graphql-core execution", _in("graphql/")),
    ("HTTP (uvicorn, starlette, httptools)", _in("uvicorn/", "starlette/", "httptools", "h11/")),
    ("rdflow server / schema extensions", _in("/server/", "/schema/")),
    ("asyncio event loop", _in("asyncio/")),
]


def summarise(path: Path, top: int) -> str:
    doc = json.loads(path.read_text())
    frames: list[Frame] = doc["shared"]["frames"]
    buckets: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0.0
    for profile in doc["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            total += weight
            stack_frames = [frames[i] for i in stack]
            bucket = next((name for name, hit in BUCKETS if any(hit(f) for f in stack_frames)), "other")
            buckets[bucket] += weight
            if stack_frames:
                leaf = stack_frames[-1]
                leaves[f"{leaf.get('name')} ({leaf.get('file')}:{leaf.get('line')})"] += weight
    samples = sum(len(p["samples"]) for p in doc["profiles"])
    lines = [f"{samples} samples, {total:.1f} s on the CPU", "", "| bucket | share |", "|---|---|"]
    lines += [f"| {name} | {100 * w / total:.1f} % |" for name, w in buckets.most_common()]
    lines += ["", f"top {top} functions by own time:"]
    lines += [f"  {100 * w / total:5.1f} %  {name}" for name, w in leaves.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(summarise(args.profile, args.top))


if __name__ == "__main__":
    main()
