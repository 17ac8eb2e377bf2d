"""JWT access/refresh tokens with the brief's claims, via pyjwt (algorithm pinned, iss/aud/exp verified)."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from domain.errors import Unauthenticated
from domain.model import User
from domain.permissions import permissions_of
from domain.services.auth import password_version

ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"
# Verified tokens remembered per process: a signature, issuer and audience once verified stay so; only the expiry
# is checked again. Bounded so that a stream of distinct tokens cannot grow memory.
VERIFIED_TOKENS = 10_000


@dataclass(frozen=True)
class TokenConfig:
    secret: str
    issuer: str
    audience: str
    access_ttl: timedelta
    refresh_ttl: timedelta


class TokenCodec:
    def __init__(self, config: TokenConfig, remembered: int = VERIFIED_TOKENS):
        self.config = config
        self.remembered = remembered
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def issue(
        self, user: User, typ: str, now: datetime, *, family: str | None = None, jti: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        ttl = self.config.access_ttl if typ == ACCESS else self.config.refresh_ttl
        claims: dict[str, Any] = {
            "sub": str(user.id),
            "username": user.username,
            "email": user.email,
            "role": user.role.value,
            "permissions": sorted(p.value for p in permissions_of(user.role)),
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "iss": self.config.issuer,
            "aud": self.config.audience,
            "jti": jti or uuid.uuid4().hex,
            "typ": typ,
            "pwv": password_version(user.password_hash),
        }
        if family:
            claims["fam"] = family
        return jwt.encode(claims, self.config.secret, algorithm=ALGORITHM), claims

    def decode(self, token: str, typ: str) -> dict[str, Any]:
        """The token's claims once its signature, issuer, audience, expiry and type are verified (revocation is
        the caller's). A token verified before is not verified again, except its expiry."""
        known = self._verified.get(token)
        if known is not None and known["typ"] == typ:
            if known["exp"] <= time.time():
                del self._verified[token]
                raise Unauthenticated("token expired")
            return dict(known)
        claims = self._verify(token, typ)
        self._verified[token] = dict(claims)
        while len(self._verified) > self.remembered:
            self._verified.popitem(last=False)
        return claims

    def _verify(self, token: str, typ: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(
                token,
                self.config.secret,
                algorithms=[ALGORITHM],
                audience=self.config.audience,
                issuer=self.config.issuer,
                options={"require": ["sub", "exp", "iat", "iss", "aud", "jti", "typ"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        if claims.get("typ") != typ:
            raise Unauthenticated(f"expected a {typ} token, got {claims.get('typ')}")
        return claims
