"""Users: creation by super admins and the first-admin bootstrap."""

from __future__ import annotations

import re
import uuid

from domain import validation as v
from domain.enums import Role, UserStatus
from domain.errors import Conflict, Forbidden, InvalidInput
from domain.model import User
from domain.paging import ListQuery, Page
from domain.permissions import Permission, Viewer, permissions_of
from domain.ports import PasswordHasher
from domain.services.access import load
from domain.services.base import Deps, Tx

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,50}\Z")
MIN_PASSWORD = 10
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "iloveyou1",
        "administrator",
        "letmein123",
        "welcome123",
        "passw0rd123",
        "qwerty1234",
        "1q2w3e4r5t",
        "abc1234567",
        "changeme123",
        "admin12345",
        "superadmin",
        "football123",
        "monkey1234",
        "dragon1234",
    }
)


def check_password(password: str, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"{field} must be at least {MIN_PASSWORD} characters", field=field)
    if len(password) > 256:
        raise InvalidInput(f"{field} must be at most 256 characters", field=field)
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        raise InvalidInput(f"{field} is too common or too simple; choose another", field=field)
    return password


def check_identity(username: str, email: str) -> tuple[str, str]:
    username = v.text(username, "username", max_length=50) or ""
    if not USERNAME.match(username):
        raise InvalidInput("username must be 3-50 letters, digits, dot, dash or underscore", field="username")
    email = v.lowercase(email, "email", max_length=100)
    if not EMAIL.match(email):
        raise InvalidInput(f"email {email!r} is not a valid address", field="email")
    return username, email


async def require_manager_now(tx: Tx, viewer: Viewer) -> None:
    """User management runs one change at a time, by a caller who may still manage users. The caller's role comes
    from its sign-in, read before the transaction: two admins demoting (or deactivating) each other at once would
    otherwise both succeed and leave nobody who may manage users."""
    viewer.require(Permission.USER_MANAGE)
    await tx.uow.lock("users.manage")
    me = await tx.uow.users.get(viewer.require_login())
    if me is None or me.status is not UserStatus.ACTIVE or Permission.USER_MANAGE not in permissions_of(me.role):
        raise Forbidden(Permission.USER_MANAGE.value, "your role or status changed meanwhile; you may not manage users")


class UserService:
    def __init__(self, deps: Deps, hasher: PasswordHasher):
        self.deps = deps
        self.hasher = hasher

    async def new_user(
        self, tx: Tx, username: str, email: str, password: str, role: Role, department: str | None
    ) -> User:
        username, email = check_identity(username, email)
        check_password(password)
        if await tx.uow.users.find_one(username=username):
            raise Conflict(f"username {username!r} is taken", field="username")
        if await tx.uow.users.find_one(email=email):
            raise Conflict(f"email {email!r} is already registered", field="email")
        now = tx.now()
        user = User(
            username=username,
            email=email,
            password_hash=self.hasher.hash(password),
            role=role,
            department=v.text(department, "department", max_length=50, required=False),
            created_at=now,
            updated_at=now,
        )
        tx.uow.users.add(user)
        tx.audit("user.create", "User", user.id, None, user)
        return user

    async def create_user(
        self, viewer: Viewer, *, username: str, email: str, password: str, role: Role, department: str | None = None
    ) -> User:
        async with Tx(self.deps, viewer, "user.create") as tx:
            await require_manager_now(tx, viewer)
            return await self.new_user(tx, username, email, password, role, department)

    async def bootstrap_admin(self, *, username: str, email: str, password: str) -> User:
        """Create a super admin from the CLI (no viewer: the operator owns the machine)."""
        async with Tx(self.deps, Viewer(), "user.bootstrap") as tx:
            return await self.new_user(tx, username, email, password, Role.SUPER_ADMIN, None)

    async def get(self, viewer: Viewer, user_id: uuid.UUID) -> User:
        viewer.require_login()
        if user_id != viewer.user_id:
            viewer.require(Permission.USER_MANAGE)
        async with self.deps.uow() as uow:
            return await load(uow.users, "User", user_id)

    async def by_ids(self, viewer: Viewer, ids: list[uuid.UUID]) -> list[User]:
        """Public profile lookups (names behind createdBy/assignedTo) for signed-in viewers."""
        viewer.require_login()
        async with self.deps.uow() as uow:
            return await uow.users.get_many(ids)

    async def list(self, viewer: Viewer, query: ListQuery) -> Page[User]:
        viewer.require(Permission.USER_MANAGE)
        async with self.deps.uow() as uow:
            return await uow.users.list(query)

    async def update_role(self, viewer: Viewer, user_id: uuid.UUID, role: Role) -> User:
        async with Tx(self.deps, viewer, "user.role") as tx:
            await require_manager_now(tx, viewer)
            user = await load(tx.uow.users, "User", user_id, for_update=True)
            if user.id == viewer.user_id and role is not Role.SUPER_ADMIN:
                raise InvalidInput("you cannot demote yourself", field="role")
            old = user.role
            user.role = role
            user.updated_at = tx.now()
            tx.audit("user.role", "User", user.id, {"role": old.value}, {"role": role.value})
            tx.emit("User", user.id, "role_changed", old_status=old, new_status=role)
        return user

    async def deactivate(self, viewer: Viewer, user_id: uuid.UUID) -> User:
        async with Tx(self.deps, viewer, "user.deactivate") as tx:
            await require_manager_now(tx, viewer)
            user = await load(tx.uow.users, "User", user_id, for_update=True)
            if user.id == viewer.user_id:
                raise InvalidInput("you cannot deactivate yourself", field="userId")
            user.status = UserStatus.INACTIVE
            user.updated_at = tx.now()
            tx.audit("user.deactivate", "User", user.id, {"status": "ACTIVE"}, {"status": "INACTIVE"})
            tx.emit("User", user.id, "deactivated", old_status="ACTIVE", new_status="INACTIVE")
        return user
