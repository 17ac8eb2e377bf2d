"""The `rdflow` command: serve, migrate, export-schema, create-admin, worker, demo, eval."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from server.logs import configure as configure_logging
from server.logs import logging_config, wants_json
from server.settings import Settings

METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def export_schema_sdl() -> str:
    from schema.build import build_schema

    return str(build_schema()) + "\n"


def _migrate(settings: Settings, *, hint: bool = True) -> None:
    from persistence.migrations import upgrade
    from server.demo import is_empty

    upgrade(settings.effective_database_url)
    print(f"database at head: {settings.effective_database_url}")
    if hint and asyncio.run(is_empty(settings)):
        print(
            "no users yet: run `.venv/bin/rdflow demo` for a sample project, or create-admin "
            "(.venv/bin/rdflow create-admin --username admin --email admin@example.com)"
        )


def serving_settings(
    settings: Settings, *, host: str | None = None, port: int | None = None, workers: int | None = None
) -> Settings:
    """The flags over the environment. In production with REDIS_URL the workers default to one per core; else to
    one, as on the embedded default (several work there too: they meet in the database and the data folder)."""
    update: dict[str, object] = {"host": host, "port": port, "workers": workers}
    update = {name: value for name, value in update.items() if value is not None}
    shared = settings.redis_url is not None
    if "workers" not in update and "workers" not in settings.model_fields_set and settings.env == "production":
        update["workers"] = (os.cpu_count() or 1) if shared else 1
    return settings.model_copy(update=update)


def _metrics_dir(given: str | None) -> tuple[Path, bool]:
    """Where the server's processes share their metrics, emptied of a previous run's files: `given`, or a fresh
    temporary directory (then ours to remove at exit)."""
    if not given:
        return Path(tempfile.mkdtemp(prefix="rdflow-metrics-")), True
    path = Path(given)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path, False


def _serve(settings: Settings) -> None:
    import uvicorn
    from uvicorn.server import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from server.http_protocol import server_options
    from server.listening import worker_sockets

    # Each worker process builds its Settings from the environment: give it what the flags chose.
    os.environ.update(RDFLOW_HOST=settings.host, RDFLOW_PORT=str(settings.port), RDFLOW_WORKERS=str(settings.workers))
    url = f"http://{settings.host}:{settings.port}/graphql"
    plural = "worker process" if settings.workers == 1 else "worker processes"
    print(f"rdflow serving GraphQL at {url} with {settings.workers} {plural} (GraphiQL in the browser)")
    print("first time? create a super admin: rdflow create-admin --username admin --email admin@example.com")
    # Set before any process imports prometheus_client: the worker processes write their metrics into files
    # there and /metrics, whichever process answers it, sums them.
    metrics_dir, ours = _metrics_dir(os.environ.get(METRICS_DIR_ENV))
    os.environ[METRICS_DIR_ENV] = str(metrics_dir)
    config = uvicorn.Config(
        "server.app:serving_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        log_config=logging_config(json=wants_json(settings.env, settings.log_format), level=settings.log_level),
        access_log=False,
        proxy_headers=True,
        timeout_keep_alive=settings.http_keepalive_s,
        **server_options(settings.max_body_bytes),
    )
    try:
        if settings.workers > 1:
            # As uvicorn.run, except that every worker listens on its own socket (server/listening.py).
            try:
                sockets = worker_sockets(settings.host, settings.port)
            except OSError as exc:
                where = f"{settings.host}:{settings.port}"
                print(f"rdflow serve: cannot listen on {where}: {exc.strerror}", file=sys.stderr)
                raise SystemExit(STARTUP_FAILURE) from None
            Multiprocess(config, sockets=sockets).run()
        else:
            server = uvicorn.Server(config)
            server.run()
            if not server.started:
                raise SystemExit(STARTUP_FAILURE)
    except KeyboardInterrupt:  # Ctrl+C: the server has shut down already (uvicorn.run ends the same way)
        pass
    finally:
        if ours:
            shutil.rmtree(metrics_dir, ignore_errors=True)


async def _create_admin(settings: Settings, username: str, email: str, password: str) -> None:
    from server.container import build_container

    container = build_container(settings)
    try:
        user = await container.services.users.bootstrap_admin(username=username, email=email, password=password)
        print(f"created super admin {user.username} ({user.email})")
    finally:
        await container.aclose()


def _demo(settings: Settings) -> None:
    from server.demo import PEOPLE, NotEmpty, fill

    _migrate(settings, hint=False)
    try:
        passwords = asyncio.run(fill(settings))
    except NotEmpty as exc:
        raise SystemExit(f"refused: {exc}") from exc
    print("demo project 'Billing Portal' created; sign in as (passwords are shown this once):")
    for name, role, _ in PEOPLE:
        print(f"  {name:10s} {role.value:14s} {passwords[name]}")
    print('mutation { login(username: "lead", password: "...") { accessToken } }  then open the dashboard or GraphiQL')


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


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}, got {text!r}")
        return int(text)

    return parse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="rdflow", description="AI-assisted R&D pipeline (GraphQL API)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the GraphQL API (flags override RDFLOW_HOST/PORT/WORKERS)")
    serve.add_argument("--host", help="address to listen on (default RDFLOW_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=_bounded(1, 65535), help="port to listen on (default RDFLOW_PORT, 8000)")
    serve.add_argument(
        "--workers",
        type=_bounded(1, 1024),
        help="worker processes (default RDFLOW_WORKERS; 1, or one per core in production with REDIS_URL)",
    )
    sub.add_parser("migrate", help="upgrade the database to the latest migration")
    export = sub.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("--output", type=Path, default=SCHEMA_FILE)
    sub.add_parser("worker", help="run background jobs from Redis (arq); needs REDIS_URL")
    sub.add_parser("demo", help="fill an empty database with a sample project (prints the users' passwords once)")
    admin = sub.add_parser(
        "create-admin", help="create a super admin (password from RDFLOW_ADMIN_PASSWORD or a prompt)"
    )
    evaluate = sub.add_parser(
        "eval", help="score the AI pipeline on the kept requirement texts (offline; Anthropic too with an API key)"
    )
    evaluate.add_argument("--provider", choices=["offline", "anthropic"], help="score only this provider")
    evaluate.add_argument(
        "--record", action="store_true", help="write these scores as the floors CI holds (server/eval/scores.json)"
    )
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    args = parser.parse_args(argv)

    if args.command == "export-schema":
        args.output.write_text(export_schema_sdl())
        print(f"wrote {args.output}")
        return
    try:
        settings = Settings()
    except ValueError as exc:
        raise SystemExit(f"configuration error: {exc}") from exc
    configure_logging(json=wants_json(settings.env, settings.log_format), level=settings.log_level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if args.command == "migrate":
        _migrate(settings)
    elif args.command == "serve":
        _serve(serving_settings(settings, host=args.host, port=args.port, workers=args.workers))
    elif args.command == "worker":
        from server.metrics import serve_in_thread
        from server.worker import run

        if settings.worker_metrics_port:
            serve_in_thread(settings.worker_metrics_port, settings.host, settings.metrics_token)

        try:
            run(settings)
        except ValueError as exc:
            raise SystemExit(f"configuration error: {exc}") from exc
    elif args.command == "demo":
        _demo(settings)
    elif args.command == "eval":
        from server.evaluation import main as evaluate_main

        sys.exit(1 if evaluate_main(settings, args.provider, args.record) else 0)
    elif args.command == "create-admin":
        from domain.errors import DomainError

        try:
            asyncio.run(_create_admin(settings, args.username, args.email, _read_password()))
        except DomainError as exc:
            raise SystemExit(f"cannot create admin: {exc.message}") from exc


if __name__ == "__main__":
    main()
