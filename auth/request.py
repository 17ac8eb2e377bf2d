"""Who is asking: a Viewer from a bearer access token (HTTP header or WebSocket connection_init)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Protocol

from auth.tokens import ACCESS, TokenCodec
from domain.enums import UserStatus
from domain.errors import Unauthenticated
from domain.model import User
from domain.permissions import Viewer
from domain.services.bundle import Services


# Asked of every signed-in request's claims: parsed once per token (a bad subject raises and is not kept).
@functools.lru_cache(maxsize=10_000)
def _subject(sub: str) -> uuid.UUID:
    return uuid.UUID(sub)


@functools.lru_cache(maxsize=10_000)
def _expiry(exp: int) -> datetime:
    return datetime.fromtimestamp(exp, UTC)


class Users(Protocol):
    """Where a sign-in finds its user: a short-lived cache (auth.user_cache), or the database (batched)."""

    def get(self, user_id: uuid.UUID) -> Awaitable[User | None]: ...


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <access token>'")
    return token.strip()


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
    try:
        user_id = _subject(claims["sub"])
    except ValueError as exc:
        raise Unauthenticated("invalid token: malformed subject") from exc
    await services.auth.check(claims)
    if users is not None:
        user = await users.get(user_id)
    else:
        user = (await services.reads.users_by_ids([user_id])).get(user_id)
    if user is None or user.status is not UserStatus.ACTIVE:
        raise Unauthenticated("the token's user does not exist or is deactivated")
    await services.auth.require_current_password(claims, user)
    return Viewer(
        user_id=user.id,
        role=user.role,
        username=user.username,
        request_id=request_id,
        client_address=client_address,
        token_jti=claims["jti"],
        token_family=claims.get("fam"),
        token_expires_at=_expiry(claims["exp"]),
    )
