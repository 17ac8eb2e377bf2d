"""The listening socket of `rdflow serve` with several worker processes: each worker listens on a socket of its own,
bound with SO_REUSEPORT, and the kernel spreads new connections over them by their addresses.

uvicorn's workers share one listening socket, and the worker that wakes first accepts the whole waiting burst: with
50 keep-alive connections opened at once, one of two workers took all of them in 2 of 5 runs while the other idled
(`{ __typename }` at 22,000 req/s instead of 31,000)."""

from __future__ import annotations

import socket
from typing import Any


def bound_reuse_port(family: int, address: tuple[Any, ...]) -> socket.socket:
    """A socket bound to `address` that other sockets of this user may bind too (it listens once uvicorn serves)."""
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


class ReusePortSocket(socket.socket):
    """The address the workers listen on, bound (so a taken port fails at start) but never listening itself. Sent to
    a worker process (multiprocessing pickles it when uvicorn starts or restarts one), it arrives as a new socket
    bound to the same address, not as a copy of this one: every worker gets its own accept queue."""

    def __reduce__(self) -> tuple[Any, ...]:
        return bound_reuse_port, (self.family, self.getsockname()[:2])


def worker_sockets(host: str, port: int) -> list[socket.socket]:
    """What uvicorn's worker supervisor hands each worker (port 0: the one the kernel picked, for all of them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    parent = ReusePortSocket(family=family)
    parent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    parent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    parent.bind((host, port))
    return [parent]
