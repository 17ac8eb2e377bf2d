"""Sign-in and sessions: register, login (rate limited), refresh rotation with reuse detection, logout."""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.enums import Role, UserStatus
from domain.errors import InvalidInput, RateLimited, Unauthenticated
from domain.model import User
from domain.permissions import Viewer
from domain.ports import PasswordHasher, RateLimiter, TokenCodecPort, TokenStore, UnitOfWork
from domain.services.base import Deps, Tx
from domain.services.users import UserService, check_password

ACCESS, REFRESH = "access", "refresh"
REFRESH_GRACE = timedelta(seconds=10)
LOGIN_FAILED = "invalid username/email or password"


@dataclass(frozen=True)
class LoginLimits:
    per_account: int = 5
    per_address: int = 30
    window_s: int = 300


@dataclass(frozen=True)
class Session:
    user: User
    access_token: str
    refresh_token: str
    expires_at: datetime


def _successor(jti: str, typ: str) -> str:
    """The id of the `typ` token issued for refresh token `jti` (the same for every retry of that refresh)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"rdflow:{jti}/{typ}").hex


@functools.lru_cache(maxsize=4_096)  # asked on every signed-in request, of the few hashes in use
def password_version(password_hash: str) -> str:
    """Carried by every token (`pwv`): a password change makes the tokens issued before it stale."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=10_000)
def _revocation_keys(jti: str, family: str | None) -> tuple[str, ...]:
    """What revokes an access token (asked on every signed-in request): its own logout, or its sign-in's."""
    return (f"jti:{jti}", f"family:{family}") if family else (f"jti:{jti}",)


async def _login_account(uow: UnitOfWork, identifier: str, raw_identifier: str) -> User | None:
    """The account a login names: by email (lowercase), else by username as typed."""
    return await uow.users.find_one(email=identifier) or await uow.users.find_one(username=raw_identifier.strip())


def _expiry(claims: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(claims["exp"], UTC)


class AuthService:
    def __init__(
        self,
        deps: Deps,
        users: UserService,
        hasher: PasswordHasher,
        tokens: TokenCodecPort,
        store: TokenStore,
        limiter: RateLimiter,
        refresh_ttl: timedelta,
        limits: LoginLimits = LoginLimits(),
        refresh_grace: timedelta = REFRESH_GRACE,
    ):
        self.deps = deps
        self.users = users
        self.hasher = hasher
        self.tokens = tokens
        self.store = store
        self.limiter = limiter
        self.limits = limits
        self.refresh_ttl = refresh_ttl
        self.refresh_grace = refresh_grace
        self._dummy_hash = hasher.hash(uuid.uuid4().hex)

    def _session(self, user: User, family: str, rotated_from: str | None = None) -> Session:
        """A new pair; rotated from a refresh token, its ids derive from that token's, so a retried refresh gets
        the same session (one chain, whose tokens are single use however many copies a client holds)."""
        now = self.deps.clock.now()
        access_jti, refresh_jti = (
            (_successor(rotated_from, ACCESS), _successor(rotated_from, REFRESH)) if rotated_from else (None, None)
        )
        access, claims = self.tokens.issue(user, ACCESS, now, family=family, jti=access_jti)
        refresh, _ = self.tokens.issue(user, REFRESH, now, family=family, jti=refresh_jti)
        return Session(user=user, access_token=access, refresh_token=refresh, expires_at=_expiry(claims))

    async def register(self, viewer: Viewer, *, username: str, email: str, password: str) -> Session:
        """Self-service sign-up gets the least privileged role; a super admin grants more. Throttled per address:
        "username taken" tells whether an account exists, which login never does."""
        await self._hit(f"register:address:{viewer.client_address or 'unknown'}", self.limits.per_address)
        async with Tx(self.deps, viewer, "auth.register") as tx:
            user = await self.users.new_user(tx, username, email, password, Role.GUEST, None)
        return self._session(user, uuid.uuid4().hex)

    async def _hit(self, key: str, limit: int) -> None:
        wait = await self.limiter.hit(key, limit, self.limits.window_s)
        if wait:
            raise RateLimited(f"too many attempts; try again in {wait} s", details={"retryAfterSeconds": wait})

    async def login(self, viewer: Viewer, raw_identifier: str, password: str) -> Session:
        identifier = (raw_identifier or "").strip().lower()
        if not identifier or not password:
            raise InvalidInput("username (or email) and password are required", field="username")
        await self._hit(f"login:address:{viewer.client_address or 'unknown'}", self.limits.per_address)
        # One counter per account however it is spelled (username or email); unknown names per lowercase name.
        # Counted before the write transaction: on SQLite that holds the one write lock the counter needs too.
        async with self.deps.uow() as uow:
            account = await _login_account(uow, identifier, raw_identifier)
            counter = f"login:account:{account.id if account else identifier}"
        await self._hit(counter, self.limits.per_account)
        async with Tx(self.deps, viewer, "auth.login") as tx:
            user = await _login_account(tx.uow, identifier, raw_identifier)
            # Same work and the same answer whether or not the user exists; the refusal is audited by Tx.
            ok = self.hasher.verify(password, user.password_hash if user else self._dummy_hash)
            if user is None or not ok or user.status is not UserStatus.ACTIVE:
                raise Unauthenticated(LOGIN_FAILED)
            user.last_login_at = tx.now()
            tx.audit("auth.login", "User", user.id, None, {"username": user.username})
        return self._session(user, uuid.uuid4().hex)

    async def refresh(self, viewer: Viewer, refresh_token: str) -> Session:
        claims = self.tokens.decode(refresh_token, REFRESH)
        family, jti = claims.get("fam"), claims["jti"]
        if not family:
            raise Unauthenticated("refresh token has no session family")
        expires = _expiry(claims)
        if await self.store.is_revoked(f"family:{family}", f"jti:{jti}"):
            raise Unauthenticated("this session was revoked; sign in again")
        if not await self._first_use_or_retry(jti, expires):
            # Tokens rotated from this one outlive it: the sign-in stays revoked for a whole refresh lifetime.
            await self.store.revoke(f"family:{family}", self.deps.clock.now() + self.refresh_ttl)
            async with Tx(self.deps, viewer, "auth.refresh") as tx:
                tx.uow.audit.add(
                    tx._entry("auth.refresh.reuse", "User", claims["sub"], None, {"family": family}, outcome="DENIED")
                )
                tx.emit("User", claims["sub"], "signed_out")
            raise Unauthenticated("refresh token reuse detected: every session of this sign-in is revoked")
        async with self.deps.uow() as uow:
            user = await uow.users.get(uuid.UUID(claims["sub"]))
        if user is None or user.status is not UserStatus.ACTIVE:
            raise Unauthenticated("the token's user does not exist or is deactivated")
        await self.require_current_password(claims, user)
        return self._session(user, family, rotated_from=jti)

    async def _first_use_or_retry(self, jti: str, expires: datetime) -> bool:
        """True for a refresh token's first use, and for its repeats within the grace window while the token
        issued for it is unused (a client retrying a refresh whose answer it lost); False for any other reuse."""
        used, grace = f"refresh:{jti}", f"grace:{jti}"
        if self.refresh_grace and not await self.store.is_revoked(used):
            # The window opens before the token counts as used: a retry racing the first use always finds it open.
            await self.store.claim_once(grace, self.deps.clock.now() + self.refresh_grace)
        if await self.store.claim_once(used, expires):
            return True
        if not self.refresh_grace or not await self.store.is_revoked(grace):
            return False
        # Whoever already used the new refresh token had received it: a repeat of the old one is no retry.
        return not await self.store.is_revoked(f"refresh:{_successor(jti, REFRESH)}")

    async def logout(self, viewer: Viewer, refresh_token: str | None = None) -> bool:
        """Revoke this access token until it expires, and the whole sign-in when its refresh token is given."""
        viewer.require_login()
        # A refresh token that does not decode refuses the whole logout before anything is revoked.
        refresh_claims = self.tokens.decode(refresh_token, REFRESH) if refresh_token else {}
        async with Tx(self.deps, viewer, "auth.logout") as tx:
            if viewer.token_jti and viewer.token_expires_at:
                await self.store.revoke(f"jti:{viewer.token_jti}", viewer.token_expires_at)
            if viewer.token_family:
                await self.store.revoke(f"family:{viewer.token_family}", self.deps.clock.now() + self.refresh_ttl)
            if refresh_claims.get("fam"):
                await self.store.revoke(f"family:{refresh_claims['fam']}", self.deps.clock.now() + self.refresh_ttl)
            tx.audit("auth.logout", "User", viewer.user_id, None, {"jti": viewer.token_jti})
            tx.emit("User", viewer.user_id, "signed_out")
        return True

    async def change_password(self, viewer: Viewer, current: str, new: str) -> bool:
        """Every other sign-in of the user ends (its tokens carry the old password version); this one goes on,
        its current tokens accepted until they are refreshed into tokens of the new version."""
        async with Tx(self.deps, viewer, "auth.password") as tx:
            # Locked: two changes from the same current password must not both pass its check.
            user = await tx.uow.users.get_for_update(viewer.require_login())
            if user is None or not self.hasher.verify(current, user.password_hash):
                raise InvalidInput("current password is wrong", field="currentPassword")
            check_password(new, "newPassword")
            if new == current:
                raise InvalidInput("the new password must differ from the current one", field="newPassword")
            user.password_hash = self.hasher.hash(new)
            user.updated_at = tx.now()
            if viewer.token_family:
                kept, until = self._kept(viewer.token_family, user), tx.now() + self.refresh_ttl
                tx.after_commit.append(lambda: self.store.revoke(kept, until))
            tx.audit("auth.password", "User", user.id, None, {"changed": True})
            tx.emit("User", user.id, "password_changed")
        return True

    @staticmethod
    def _kept(family: str, user: User) -> str:
        return f"kept:{family}:{password_version(user.password_hash)}"

    @staticmethod
    def password_is_current(claims: dict[str, Any], user: User) -> bool:
        """The token was issued after the user's last password change (it carries the password's version)."""
        return bool(claims.get("pwv") == password_version(user.password_hash))

    async def require_current_password(self, claims: dict[str, Any], user: User) -> None:
        """Refuse a token issued before the user's last password change, unless its sign-in made that change."""
        if self.password_is_current(claims, user):
            return
        if not claims.get("fam") or not await self.store.is_revoked(self._kept(claims["fam"], user)):
            raise Unauthenticated("the password changed after this sign-in; sign in again")

    async def check(self, claims: dict[str, Any]) -> None:
        """Refuse a revoked access token (logout) or one from a revoked sign-in (refresh reuse)."""
        if await self.store.is_revoked(*_revocation_keys(claims["jti"], claims.get("fam"))):
            raise Unauthenticated("token revoked")
