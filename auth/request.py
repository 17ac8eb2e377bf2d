"""Who is asking: a Viewer from a bearer access token (HTTP header or WebSocket connection_init)."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Awaitable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from auth.tokens import ACCESS, VERIFIED_TOKENS, TokenCodec
from auth.user_cache import UserCache
from domain.enums import Role, UserStatus
from domain.errors import Unauthenticated
from domain.model import User
from domain.permissions import Viewer
from domain.services.bundle import Services


@functools.lru_cache(maxsize=10_000)
def _expiry(exp: int) -> datetime:
    return datetime.fromtimestamp(exp, UTC)


class Users(Protocol):
    """Where a sign-in finds its user: a short-lived cache (auth.user_cache), or the database (batched)."""

    def get(self, user_id: uuid.UUID) -> Awaitable[User | None]: ...


@dataclass(frozen=True, slots=True)
class SignIn:
    """A signed-in request's who: the token's user as found active, with the role stored then. All a response cache
    hit needs of its viewer; a request that executes makes its Viewer from it."""

    user_id: uuid.UUID
    # (str(user_id), role name): the response cache's scope and the log lines' user, formatted once per sign-in.
    scope: tuple[str, str]
    role: Role
    username: str
    token_jti: str
    token_family: str | None
    token_expires_at: datetime

    def viewer(self, *, request_id: str | None, client_address: str | None) -> Viewer:
        return Viewer(
            user_id=self.user_id,
            role=self.role,
            username=self.username,
            request_id=request_id,
            client_address=client_address,
            token_jti=self.token_jti,
            token_family=self.token_family,
            token_expires_at=self.token_expires_at,
        )


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if not token or scheme.lower() != "bearer":
        raise Unauthenticated("Authorization header must be 'Bearer <access token>'")
    return token


def _subject(claims: dict[str, Any]) -> uuid.UUID:
    try:
        return uuid.UUID(claims["sub"])
    except ValueError as exc:
        raise Unauthenticated("invalid token: malformed subject") from exc


async def _judge(services: Services, claims: dict[str, Any], user: User | None) -> tuple[SignIn, bool]:
    """The sign-in of a verified, unrevoked token whose user is `user`; with whether the verdict rests on the token and
    the user alone (a password changed by this very sign-in is asked of the token store each time)."""
    if user is None or user.status is not UserStatus.ACTIVE:
        raise Unauthenticated("the token's user does not exist or is deactivated")
    settled = services.auth.password_is_current(claims, user)
    if not settled:
        await services.auth.require_current_password(claims, user)
    sign_in = SignIn(
        user_id=user.id,
        scope=(str(user.id), user.role.value),
        role=user.role,
        username=user.username,
        token_jti=claims["jti"],
        token_family=claims.get("fam"),
        token_expires_at=_expiry(claims["exp"]),
    )
    return sign_in, settled


async def authenticate(
    services: Services,
    tokens: TokenCodec,
    token: str | None,
    *,
    request_id: str | None,
    client_address: str | None,
    users: Users | None = None,
) -> Viewer:
    """Anonymous without a token; otherwise the token's active user, with the role stored now (from `users` when
    given: the user cache forgets a user as soon as an event about them arrives). Revocation (logout) is checked
    every time."""
    if token is None:
        return Viewer(request_id=request_id, client_address=client_address)
    claims = tokens.decode(token, ACCESS)
    user_id = _subject(claims)
    await services.auth.check(claims)
    if users is not None:
        user = await users.get(user_id)
    else:
        user = (await services.reads.users_by_ids([user_id])).get(user_id)
    sign_in, _ = await _judge(services, claims, user)
    return sign_in.viewer(request_id=request_id, client_address=client_address)


@dataclass(slots=True)
class _Known:
    claims: dict[str, Any]  # verified once; never changed
    user_id: uuid.UUID
    # The user object the last settled verdict was made for, and that verdict.
    user: User | None = None
    sign_in: SignIn | None = None


class SignIns:
    """Access tokens' sign-ins, remembered per process for the HTTP path, where every request signs in again.

    What a token says is verified once. What can change is asked on every request, as `authenticate` does: the
    expiry, the revocation (logout, refresh reuse) and the user, from the user cache at the request's data version.
    The verdict on that user (active, the token's password still current) and the SignIn made of it are kept with
    the user object they were made for: the user cache never changes a user it holds, it reads a changed one again
    as a new object, which is judged again."""

    def __init__(self, services: Services, tokens: TokenCodec, users: UserCache, max_entries: int = VERIFIED_TOKENS):
        self.services = services
        self.tokens = tokens
        self.users = users
        self.max_entries = max_entries
        self._known: dict[str, _Known] = {}

    async def sign_in(self, token: str, version: Awaitable[Hashable] | None) -> SignIn:
        """`version`: the request's reading of the data version (UserCache.get)."""
        known = self._known.get(token)
        if known is None or known.claims["exp"] <= time.time():
            known = self._verify(token)
        await self.services.auth.check(known.claims)
        user = await self.users.get(known.user_id, version)
        if user is not None and user is known.user and known.sign_in is not None:
            return known.sign_in
        sign_in, settled = await _judge(self.services, known.claims, user)
        if settled:
            known.user, known.sign_in = user, sign_in
        return sign_in

    def _verify(self, token: str) -> _Known:
        self._known.pop(token, None)
        claims = self.tokens.decode(token, ACCESS)  # an expired token raises here, as it does in `authenticate`
        known = _Known(claims, _subject(claims))
        if len(self._known) >= self.max_entries:
            del self._known[next(iter(self._known))]  # the oldest: a stream of new tokens cannot grow memory
        self._known[token] = known
        return known
