"""A test client for the GraphQL API over real HTTP (httpx against the ASGI app), with users per role."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from auth.tokens import ACCESS
from domain.enums import Role
from domain.model import User
from server.container import Container


@dataclass
class Api:
    client: httpx.AsyncClient
    container: Container
    app: Any = None  # the ASGI app behind `client`, to serve over a real socket too (LiveServer)
    server: Any = None  # that LiveServer, where a test started one
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    async def user(self, name: str, role: Role = Role.DEVELOPER) -> User:
        """A signed-in user called `name` (created once), whose token `gql(as_=name)` sends."""
        if name not in self.users:
            async with self.container.services.deps.uow() as uow:
                now = self.container.services.deps.clock.now()
                user = User(
                    username=name,
                    email=f"{name}@example.com",
                    password_hash="!",
                    role=role,
                    created_at=now,
                    updated_at=now,
                )
                uow.users.add(user)
                await uow.commit()
            self.users[name] = user
            self.tokens[name] = self.container.tokens.issue(user, ACCESS, now)[0]
        return self.users[name]

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_: str | None = "admin",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        hdrs = dict(headers or {})
        if as_ is not None:
            hdrs["authorization"] = f"Bearer {self.tokens[as_]}"
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=hdrs)

    async def gql(self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = "admin") -> dict:
        """Run an operation that must succeed; returns `data`."""
        response = await self.post(query, variables, as_=as_)
        body = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        return body["data"]

    async def error(self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = "admin") -> dict:
        """Run an operation that must fail; returns its first error."""
        response = await self.post(query, variables, as_=as_)
        body = response.json()
        assert body.get("errors"), body
        return body["errors"][0]
