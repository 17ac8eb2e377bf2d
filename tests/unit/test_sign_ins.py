"""The HTTP path's remembered sign-ins answer as a full sign-in would: revocation, expiry, role, status and password
are asked again on every request; only a verdict about the very same user object is reused."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

import auth.request
from auth.request import SignIns
from auth.tokens import ACCESS, TokenCodec, TokenConfig
from auth.user_cache import UserCache
from domain.enums import Role, UserStatus
from domain.errors import Unauthenticated
from domain.model import User
from domain.services.auth import AuthService
from integrations.events_memory import InProcessEventBus
from persistence.data_version import EmbeddedDataVersion


class MemoryTokenStore:
    """The token store port in a set; counts what it is asked."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.asked: list[tuple[str, ...]] = []

    async def is_revoked(self, *keys: str) -> bool:
        self.asked.append(keys)
        return any(k in self.revoked for k in keys)


class Auth:
    """AuthService's own revocation and password rules, over a memory store (the rest of the service is not used)."""

    check = AuthService.check
    require_current_password = AuthService.require_current_password
    password_is_current = staticmethod(AuthService.password_is_current)
    _kept = staticmethod(AuthService._kept)

    def __init__(self, store: MemoryTokenStore):
        self.store = store


CODEC = TokenCodec(
    TokenConfig("s" * 40, "rdflow", "rdflow-api", access_ttl=timedelta(minutes=5), refresh_ttl=timedelta(days=1))
)


class World:
    def __init__(self) -> None:
        self.store = MemoryTokenStore()
        self.versions = EmbeddedDataVersion(None)
        self.user = User("maria", "maria@example.com", "hash one", role=Role.DEVELOPER)

        async def load(user_id):
            return self.user if user_id == self.user.id else None

        self.cache = UserCache(InProcessEventBus(), load, versions=self.versions)
        self.sign_ins = SignIns(SimpleNamespace(auth=Auth(self.store)), CODEC, self.cache)  # type: ignore[arg-type]

    def token(self, *, family: str | None = "family-1") -> str:
        return CODEC.issue(self.user, ACCESS, datetime.now(UTC), family=family)[0]

    async def change(self, **fields) -> None:
        """Another replica changed the user: a new object, read after the data version moved."""
        self.user = replace(self.user, **fields)
        await self.versions.bump()

    async def sign_in(self, token: str):
        version = asyncio.ensure_future(self.versions.current())  # as the view reads it: once, for both caches
        try:
            return await self.sign_ins.sign_in(token, version)
        finally:
            await version


@pytest.fixture
async def world():
    world = World()
    yield world
    await world.cache.aclose()


async def test_a_token_is_asked_about_its_revocation_on_every_request(world: World):
    token = world.token()
    first, second = await world.sign_in(token), await world.sign_in(token)
    assert first is second  # the same user object: the same verdict
    assert first.scope == (str(world.user.id), "DEVELOPER")
    assert world.store.asked == [("jti:" + first.token_jti, "family:family-1")] * 2
    world.store.revoked.add("family:family-1")
    with pytest.raises(Unauthenticated, match="revoked"):
        await world.sign_in(token)


async def test_a_changed_user_is_judged_again(world: World):
    token = world.token()
    assert (await world.sign_in(token)).role is Role.DEVELOPER
    await world.change(role=Role.TESTER)
    assert (await world.sign_in(token)).scope[1] == "TESTER"
    await world.change(status=UserStatus.INACTIVE)
    with pytest.raises(Unauthenticated, match="deactivated"):
        await world.sign_in(token)


async def test_a_sign_in_that_changed_the_password_itself_is_asked_of_the_store_every_time(world: World):
    token = world.token(family="family-2")
    await world.change(password_hash="hash two")
    with pytest.raises(Unauthenticated, match="password changed"):
        await world.sign_in(token)
    kept = AuthService._kept("family-2", world.user)
    world.store.revoked.add(kept)  # this sign-in made the change: it is kept
    assert (await world.sign_in(token)).user_id == world.user.id
    world.store.revoked.discard(kept)  # e.g. Redis lost it: the same user object no longer answers for the token
    with pytest.raises(Unauthenticated, match="password changed"):
        await world.sign_in(token)


async def test_a_remembered_token_expires(world: World, monkeypatch: pytest.MonkeyPatch):
    token = world.token()
    await world.sign_in(token)
    later = time.time() + 301
    monkeypatch.setattr(auth.request.time, "time", lambda: later)
    with pytest.raises(Unauthenticated, match="expired"):
        await world.sign_in(token)


async def test_remembered_tokens_are_bounded(world: World):
    world.sign_ins.max_entries = 2
    tokens = [world.token() for _ in range(3)]
    for token in tokens:
        await world.sign_in(token)
    assert list(world.sign_ins._known) == tokens[1:]
    assert (await world.sign_in(tokens[0])).user_id == world.user.id  # forgotten, so verified again
