"""The `rdflow` command: serve, migrate, export-schema, create-admin, worker."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from pathlib import Path

from server.settings import Settings

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def export_schema_sdl() -> str:
    from schema.build import build_schema

    return str(build_schema()) + "\n"


def _migrate(settings: Settings) -> None:
    from persistence.migrations import upgrade

    upgrade(settings.effective_database_url)
    print(f"database at head: {settings.effective_database_url}")


def _serve(settings: Settings) -> None:
    import uvicorn

    from server.ws_protocol import websocket_options

    url = f"http://{settings.host}:{settings.port}/graphql"
    print(f"rdflow serving GraphQL at {url} (GraphiQL in the browser)")
    print("first time? create a super admin: rdflow create-admin --username admin --email admin@example.com")
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        proxy_headers=True,
        **websocket_options(settings.max_body_bytes),
    )


async def _create_admin(settings: Settings, username: str, email: str, password: str) -> None:
    from server.container import build_container

    container = build_container(settings)
    try:
        user = await container.services.users.bootstrap_admin(username=username, email=email, password=password)
        print(f"created super admin {user.username} ({user.email})")
    finally:
        await container.aclose()


def _read_password() -> str:
    password = os.environ.get("RDFLOW_ADMIN_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        raise SystemExit("set RDFLOW_ADMIN_PASSWORD or run in a terminal to be prompted")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("repeat password: "):
        raise SystemExit("passwords do not match")
    return first


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="rdflow", description="AI-assisted R&D pipeline (GraphQL API)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="apply nothing; serve the GraphQL API")
    sub.add_parser("migrate", help="upgrade the database to the latest migration")
    export = sub.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("--output", type=Path, default=SCHEMA_FILE)
    sub.add_parser("worker", help="run background jobs from Redis (arq); needs REDIS_URL")
    admin = sub.add_parser(
        "create-admin", help="create a super admin (password from RDFLOW_ADMIN_PASSWORD or a prompt)"
    )
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    if args.command == "export-schema":
        args.output.write_text(export_schema_sdl())
        print(f"wrote {args.output}")
        return
    try:
        settings = Settings()
    except ValueError as exc:
        raise SystemExit(f"configuration error: {exc}") from exc
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if args.command == "migrate":
        _migrate(settings)
    elif args.command == "serve":
        _serve(settings)
    elif args.command == "worker":
        from server.worker import run

        try:
            run(settings)
        except ValueError as exc:
            raise SystemExit(f"configuration error: {exc}") from exc
    elif args.command == "create-admin":
        from domain.errors import DomainError

        try:
            asyncio.run(_create_admin(settings, args.username, args.email, _read_password()))
        except DomainError as exc:
            raise SystemExit(f"cannot create admin: {exc.message}") from exc


if __name__ == "__main__":
    main()
