"""The listening socket of `rdflow serve` with several worker processes: each worker listens on a socket of its own,
bound with SO_REUSEPORT, and the kernel spreads new connections over them by their addresses.

uvicorn's workers share one listening socket, and the worker that wakes first accepts the whole waiting burst: with
50 keep-alive connections opened at once, one of two workers took all of them in 2 of 5 runs while the other idled
(`{ __typename }` at 22,000 req/s instead of 31,000)."""

from __future__ import annotations

import socket
from typing import Any


def _bind_shared(sock: socket.socket, address: tuple[Any, ...]) -> socket.socket:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


def bound_reuse_port(family: int, address: tuple[Any, ...]) -> socket.socket:
    """A socket bound to `address` beside the other workers' (it listens once uvicorn serves on it)."""
    return _bind_shared(socket.socket(family=family), address)


class ReusePortSocket(socket.socket):
    """The address the workers listen on, bound but never listening itself. Sent to a worker process
    (multiprocessing pickles it when uvicorn starts or restarts one), it arrives as a new socket bound to the same
    address, not as a copy of this one: every worker gets its own accept queue."""

    def __reduce__(self) -> tuple[Any, ...]:
        return bound_reuse_port, (self.family, self.getsockname()[:2])


def worker_sockets(host: str, port: int) -> list[socket.socket]:
    """What uvicorn's worker supervisor hands each worker. OSError when the address is taken: a plain bind is tried
    first, since SO_REUSEPORT alone would let a second `rdflow serve` on the same port share its connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family=family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]  # port 0: the one the kernel picked, for every worker
    return [_bind_shared(ReusePortSocket(family=family), (host, port))]
