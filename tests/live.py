"""A real uvicorn server on a free port in the test's event loop, and GraphQL WebSocket clients for it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import websockets

from server.http_protocol import server_options
from server.settings import Settings
from tests.jobstack import ALIASED, ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(
        self, app: Any, max_message_bytes: int = Settings.model_fields["max_body_bytes"].default, **options: Any
    ):
        """`options`: uvicorn settings over `rdflow serve`'s (e.g. a shorter `ws_ping_interval`)."""
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="off",
                **{**server_options(max_message_bytes), **options},
            )
        )
        self.task: asyncio.Task | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    async def __aenter__(self) -> LiveServer:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        await self.task


class TransportWs:
    """A graphql-transport-ws client (the current protocol)."""

    protocol = "graphql-transport-ws"

    def __init__(self, url: str, **connect: Any):
        self.url = url
        self.connect = connect

    async def __aenter__(self):
        self.ws = await websockets.connect(self.url, subprotocols=[self.protocol], **self.connect)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def init(self, payload: dict | None) -> dict:
        await self.ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        return await self.recv()

    async def subscribe(self, op_id: str, query: str, variables: dict | None = None) -> None:
        await self.ws.send(
            json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})
        )

    async def recv(self, timeout: float = 10) -> dict:
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message.get("type") not in ("ping", "pong", "ka"):
                return message

    async def next_payload(self, timeout: float = 10) -> dict:
        message = await self.recv(timeout)
        assert message["type"] in ("next", "data"), message
        return message["payload"]


class LegacyWs(TransportWs):
    """The legacy graphql-ws (subscriptions-transport-ws) protocol."""

    protocol = "graphql-ws"

    async def subscribe(self, op_id: str, query: str, variables: dict | None = None) -> None:
        await self.ws.send(
            json.dumps({"id": op_id, "type": "start", "payload": {"query": query, "variables": variables or {}}})
        )


def migrate_with_admin(env: dict[str, str], admin_password: str) -> None:
    """`rdflow migrate`, then `rdflow create-admin` (user admin), in subprocesses with `env`."""
    for args, extra in (
        (("migrate",), {}),
        (
            ("create-admin", "--username", "admin", "--email", "admin@example.com"),
            {"RDFLOW_ADMIN_PASSWORD": admin_password},
        ),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "server.cli", *args],
            check=False,
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode:
            raise RuntimeError(f"rdflow {args[0]} exited with {done.returncode}:\n{done.stderr[-4000:]}")


class ServeProcess:
    """`python -m server.cli serve` on a free port over a fresh SQLite file (migrated, with a super admin), set up
    by RDFLOW_* variables (`env`, e.g. RDFLOW_WORKERS); its stdout in `log_path`, its stderr (the log) beside it in
    `<log_path>.stderr`."""

    ADMIN_PASSWORD = "live-Admin-pass-1"

    def __init__(self, data_dir: Path, log_path: Path, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RDFLOW_") and k not in ALIASED}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.env.update(
            {"DATABASE_URL": f"sqlite:///{data_dir}/rdflow.db", "RDFLOW_DATA_DIR": str(data_dir)}, **(env or {})
        )
        self.env["RDFLOW_PORT"] = str(self.port)
        self.log_path = log_path
        self.stderr_path = log_path.with_name(log_path.name + ".stderr")
        self.proc: subprocess.Popen | None = None

    async def __aenter__(self) -> ServeProcess:
        migrate_with_admin(self.env, self.ADMIN_PASSWORD)
        self._spawn()
        deadline = asyncio.get_running_loop().time() + 120
        async with httpx.AsyncClient() as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.url}/ready", timeout=2)).status_code == 200:
                        return self
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"server never became ready:\n{self.log()[-4000:]}")
                await asyncio.sleep(0.1)

    def _spawn(self) -> None:
        with self.log_path.open("ab") as out, self.stderr_path.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "serve"], cwd=ROOT, env=self.env, stdout=out, stderr=err
            )

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            await asyncio.to_thread(self.proc.wait, 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        """stdout, then stderr."""
        return "".join(
            path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
            for path in (self.log_path, self.stderr_path)
        )

    def stderr_lines(self) -> list[str]:
        return self.stderr_path.read_text(encoding="utf-8").splitlines() if self.stderr_path.exists() else []
