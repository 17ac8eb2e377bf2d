"""The embedded event bus of a server with several worker processes and no Redis: each process offers events to its
own subscribers and relays what it publishes to the other processes over Unix sockets, one per process, in a folder
only this user can enter.

A process is found by its socket file; one that died leaves a file nobody listens on, removed by the first publisher
refused by it. Frames are a 4-byte length and the event's JSON; a zero-length frame says the sender is closing. A
connection from a peer that ends without it (the peer died, or cut us off for being too far behind) may have lost
events on the way: every subscriber here is told, as when Redis pub/sub drops (EventsMissed, then it refetches).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import stat
import struct
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, cast

import orjson

from domain.events import DomainEvent, SubscriberOverflow
from integrations.events_memory import UNOBSERVED, EventsObserver, InProcessEventBus

log = logging.getLogger("rdflow.events")

_LENGTH = struct.Struct("!I")
_BYE = _LENGTH.pack(0)
SUFFIX = ".sock"
# Bytes queued for a peer (or for one still connecting) past which it is cut off: a process that stopped reading.
MAX_BEHIND = 8 * 1024 * 1024
# A frame this long is not an event of ours: the connection that sent it is dropped.
MAX_FRAME = 16 * 1024 * 1024
# sun_path holds 108 bytes on Linux, 104 on macOS; a socket's name is 8 hex digits and the suffix.
_MAX_SOCKET_PATH = 100


def relay_folder(data_dir: Path) -> Path:
    """Where the processes sharing `data_dir` meet: its `live-events` folder, or, when that path is too long for a
    socket's name, one in the temporary folder named after it. Either is this user's alone (mode 0700): anyone who
    can connect there could push events to every subscriber."""
    folder = data_dir.resolve() / "live-events"
    if len(os.fsencode(folder)) + 14 > _MAX_SOCKET_PATH:
        digest = hashlib.sha256(os.fsencode(folder)).hexdigest()[:16]
        folder = Path(tempfile.gettempdir()) / f"rdflow-events-{os.getuid()}-{digest}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise RuntimeError(f"{folder} must be a folder of this user's alone (mode 0700) to relay live events")
    return folder


def _frame(event: DomainEvent) -> bytes:
    body = orjson.dumps(event.to_dict())
    return _LENGTH.pack(len(body)) + body


class _Inbound(asyncio.Protocol):
    """One peer's connection to us: its events, in the order it published them."""

    def __init__(self, bus: LocalRelayEventBus):
        self.bus = bus
        self.buffer = bytearray()
        self.said_bye = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio.Transport's
        self.bus.inbound.add(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self.buffer)
            if length == 0:
                self.said_bye = True
                del self.buffer[: _LENGTH.size]
                continue
            if length > MAX_FRAME:
                log.error("live events relay: a %d-byte frame from a peer; dropping its connection", length)
                assert self.transport is not None
                self.transport.abort()
                return
            end = _LENGTH.size + length
            if len(self.buffer) < end:
                return
            body = bytes(self.buffer[_LENGTH.size : end])
            del self.buffer[:end]
            self.bus.received(body)

    def connection_lost(self, exc: Exception | None) -> None:
        self.bus.inbound.discard(self)
        if not self.said_bye and not self.bus.closed:
            log.warning("live events relay: a peer went away without closing; subscribers here refetch")
            self.bus.missed()


class _Outbound(asyncio.Protocol):
    """Our connection to one peer; frames sent while it connects wait, in order."""

    def __init__(self, bus: LocalRelayEventBus, path: str):
        self.bus = bus
        self.path = path
        self.waiting: list[bytes] = []
        self.waiting_bytes = 0
        self.transport: asyncio.Transport | None = None
        self.connecting: asyncio.Task[Any] | None = None
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def send(self, frame: bytes) -> None:
        if self.transport is None:
            self.waiting.append(frame)
            self.waiting_bytes += len(frame)
            if self.waiting_bytes > MAX_BEHIND:
                self._cut_off()
        elif self.transport.get_write_buffer_size() > MAX_BEHIND:
            self._cut_off()
        else:
            self.transport.write(frame)

    def _cut_off(self) -> None:
        # Its connection ends without a bye: the peer tells its subscribers they missed events.
        log.warning("live events relay: %s is more than %d bytes behind; cut off", self.path, MAX_BEHIND)
        self.bus.observer.dropped("relay_peer_behind")
        self.bus.forget(self)
        if self.transport is not None:
            self.transport.abort()
        elif self.connecting is not None:
            self.connecting.cancel()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self.waiting:
            self.transport.writelines(self.waiting)
            self.waiting.clear()
            self.waiting_bytes = 0

    def data_received(self, data: bytes) -> None:
        pass  # peers never answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.bus.forget(self)
        if not self.gone.done():
            self.gone.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.write(_BYE)
            self.transport.close()
        elif self.connecting is not None:
            self.connecting.cancel()
            self.gone.cancel()


class LocalRelayEventBus(InProcessEventBus):
    """InProcessEventBus for this process's subscribers, plus a relay of what it publishes to the peers in
    `folder` (relay_folder) and of theirs to it."""

    def __init__(self, folder: Path, max_pending: int = 1000, observer: EventsObserver = UNOBSERVED):
        super().__init__(max_pending=max_pending, observer=observer)
        self.folder = folder
        self.path = str(folder / f"{uuid.uuid4().hex[:8]}{SUFFIX}")
        self.inbound: set[_Inbound] = set()
        self.closed = False
        self._peers: dict[str, _Outbound] = {}
        self._server: asyncio.AbstractServer | None = None
        self._starting = asyncio.Lock()

    async def publish(self, event: DomainEvent) -> None:
        # Peers first: each starts on its own subscribers while this process goes through its own.
        frame: bytes | None = None
        for path in self._peer_paths():
            peer = self._peers.get(path) or self._connect(path)
            frame = frame or _frame(event)
            peer.send(frame)
        await super().publish(event)

    @contextlib.asynccontextmanager
    async def subscribe(
        self,
        topics: Sequence[str],
        on_overflow: Callable[[SubscriberOverflow], None] | None = None,
        direct: Callable[[DomainEvent], bool] | None = None,
    ) -> AsyncIterator[AsyncIterator[DomainEvent]]:
        await self.listen()
        async with super().subscribe(topics, on_overflow, direct) as events:
            yield events

    async def listen(self) -> None:
        """Peers find this process from now on (a process that never subscribes need not be found)."""
        if self._server is not None:
            return
        async with self._starting:
            if self._server is None and not self.closed:
                # Bound under another name and renamed once listening: a peer that finds a socket in the folder
                # and is refused takes it for a dead process's, and removes it.
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                unready = self.path.removesuffix(SUFFIX)
                try:
                    sock.bind(unready)
                    sock.listen(128)
                    os.rename(unready, self.path)
                    loop = asyncio.get_running_loop()
                    self._server = await loop.create_unix_server(lambda: _Inbound(self), sock=sock)
                except BaseException:
                    sock.close()
                    with contextlib.suppress(OSError):
                        os.unlink(unready)
                    raise

    def received(self, body: bytes) -> None:
        try:
            event = DomainEvent.from_dict(orjson.loads(body))
        except (ValueError, TypeError, KeyError):
            self.observer.dropped("undecodable")
            log.error("live events relay: dropping an undecodable event")
            return
        self.deliver(event)

    def _peer_paths(self) -> list[str]:
        try:
            with os.scandir(self.folder) as entries:
                return [e.path for e in entries if e.name.endswith(SUFFIX) and e.path != self.path]
        except OSError as exc:
            log.error("live events relay: cannot list %s (%s); events stay in this process", self.folder, exc)
            return []

    def _connect(self, path: str) -> _Outbound:
        peer = _Outbound(self, path)
        self._peers[path] = peer
        loop = asyncio.get_running_loop()
        peer.connecting = loop.create_task(loop.create_unix_connection(lambda: peer, path))
        peer.connecting.add_done_callback(lambda task: self._connected(peer, task))
        return peer

    def _connected(self, peer: _Outbound, task: asyncio.Task[Any]) -> None:
        peer.connecting = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        self.forget(peer)
        if isinstance(exc, ConnectionRefusedError):
            # Nobody listens there: the socket of a process that died. The next publish does not try it again.
            with contextlib.suppress(OSError):
                os.unlink(peer.path)
        elif not isinstance(exc, FileNotFoundError):
            self.observer.dropped("relay_unreachable")
            log.warning("live events relay: cannot reach %s (%s); its subscribers miss this event", peer.path, exc)

    def forget(self, peer: _Outbound) -> None:
        if self._peers.get(peer.path) is peer:
            del self._peers[peer.path]

    async def aclose(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        if self._server is not None:
            self._server.close()
        peers = list(self._peers.values())
        for peer in peers:
            peer.close()
        for inbound in list(self.inbound):
            if inbound.transport is not None:
                inbound.transport.close()
        # Each peer's connection ends once its bye is written (a peer that stopped reading gets a second).
        closing = [p.gone for p in peers if not p.gone.done()]
        if closing:
            await asyncio.wait(closing, timeout=1)
