"""The per-request context every resolver receives: who asks, the services, the loaders."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from domain.permissions import Viewer
from domain.services.bundle import Services
from resolvers.loaders import Loaders


@dataclass
class RequestContext:
    viewer: Viewer
    services: Services
    extras: dict[str, Any] = field(default_factory=dict)
    connection_params: dict[str, Any] | None = None
    # Authenticates the connection's token again, as it stands now (a WebSocket's sign-in outlives its check).
    recheck_sign_in: Callable[[], Awaitable[Viewer]] | None = None
    # Closes the connection with a code and reason (set by the server for a WebSocket; None over HTTP).
    close_connection: Callable[[int, str], Awaitable[None]] | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.services, self.viewer)

    def for_operation(self) -> RequestContext:
        """The same viewer and connection with empty DataLoaders: loaders cache for one operation or event only."""
        return dataclasses.replace(self)

    def sign_in(self, viewer: Viewer, recheck: Callable[[], Awaitable[Viewer]] | None = None) -> None:
        """A WebSocket authenticates after the context exists (in connection_init)."""
        self.viewer = viewer
        self.recheck_sign_in = recheck
        self.loaders = Loaders(self.services, viewer)
