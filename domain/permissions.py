"""The brief's permission matrix and the viewer it is checked against.

A refusal names the weakest permission that would have allowed the action, so the error says what to ask for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from domain.enums import Environment, Role, TaskType, TestType
from domain.errors import Forbidden, Unauthenticated


class Permission(str, Enum):
    USER_MANAGE = "user:manage"
    PROJECT_READ = "project:read"
    PROJECT_WRITE = "project:write"
    MEMBER_MANAGE = "project:members"
    REQUIREMENT_READ = "requirement:read"
    REQUIREMENT_WRITE = "requirement:write"
    TASK_MANAGE = "task:manage"
    TASK_ASSIGN = "task:assign"
    TASK_EXECUTE_ANY = "task:execute:any"
    TASK_EXECUTE_ASSIGNED = "task:execute:assigned"
    TASK_EXECUTE_TESTING = "task:execute:testing"
    CODE_ANY = "code:any"
    CODE_OWN = "code:own"
    TEST_RUN_ANY = "test:run:any"
    TEST_RUN_UNIT = "test:run:unit"
    DEPLOY_ANY = "deploy:any"
    DEPLOY_DEV = "deploy:dev"
    DEPLOY_APPROVE = "deploy:approve"
    ENVIRONMENT_MANAGE = "environment:manage"
    SYSTEM_CONFIG = "system:config"
    AUDIT_READ = "audit:read"


P = Permission
FOUR_EYES = "deploy:four-eyes"  # the rule a requester deciding on their own PROD deployment breaks
_READ = {P.PROJECT_READ, P.REQUIREMENT_READ}

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.SUPER_ADMIN: frozenset(Permission),
    Role.PROJECT_ADMIN: frozenset(
        _READ
        | {
            P.PROJECT_WRITE,
            P.MEMBER_MANAGE,
            P.REQUIREMENT_WRITE,
            P.TASK_MANAGE,
            P.TASK_ASSIGN,
            P.TASK_EXECUTE_ANY,
            P.CODE_ANY,
            P.TEST_RUN_ANY,
            P.DEPLOY_ANY,
            P.DEPLOY_APPROVE,
            P.ENVIRONMENT_MANAGE,
        }
    ),
    Role.DEVELOPER: frozenset(
        _READ | {P.REQUIREMENT_WRITE, P.TASK_MANAGE, P.TASK_EXECUTE_ASSIGNED, P.CODE_OWN, P.TEST_RUN_UNIT, P.DEPLOY_DEV}
    ),
    Role.TESTER: frozenset(_READ | {P.TASK_EXECUTE_TESTING, P.TEST_RUN_ANY}),
    Role.GUEST: frozenset(_READ),
}


def permissions_of(role: Role) -> frozenset[Permission]:
    return MATRIX[role]


@dataclass(frozen=True)
class Viewer:
    """Who is asking, and from where; anonymous when user_id is None."""

    user_id: uuid.UUID | None = None
    role: Role | None = None
    username: str | None = None
    request_id: str | None = None
    client_address: str | None = None
    token_jti: str | None = None
    token_family: str | None = None
    token_expires_at: datetime | None = None

    @property
    def role_name(self) -> str:
        """The role for messages; a job acts for its requester with no role."""
        return self.role.value if self.role is not None else "NONE"

    @property
    def is_super_admin(self) -> bool:
        return self.role is Role.SUPER_ADMIN

    def has(self, permission: Permission) -> bool:
        return self.role is not None and permission in MATRIX[self.role]

    def require_login(self) -> uuid.UUID:
        if self.user_id is None:
            raise Unauthenticated("authentication required: send Authorization: Bearer <access token>")
        return self.user_id

    def require(self, permission: Permission) -> None:
        self.require_login()
        if not self.has(permission):
            raise Forbidden(permission.value, f"role {self.role_name} lacks permission {permission.value}")


def require_task_execution(viewer: Viewer, task_type: TaskType, assigned_to: uuid.UUID | None) -> None:
    """Admins run any task; developers the ones assigned to them; testers testing tasks."""
    viewer.require_login()
    if viewer.has(P.TASK_EXECUTE_ANY):
        return
    if viewer.has(P.TASK_EXECUTE_ASSIGNED) and assigned_to == viewer.user_id:
        return
    if viewer.has(P.TASK_EXECUTE_TESTING) and task_type is TaskType.TESTING:
        return
    if task_type is TaskType.TESTING:
        missing = P.TASK_EXECUTE_TESTING
    else:
        missing = P.TASK_EXECUTE_ASSIGNED if assigned_to == viewer.user_id else P.TASK_EXECUTE_ANY
    raise Forbidden(missing.value, f"role {viewer.role_name} may not execute this task ({missing.value})")


def require_assignment(viewer: Viewer, current: uuid.UUID | None, new: uuid.UUID | None) -> None:
    """Admins assign anyone; others may only take an unassigned task for themselves or give back their own,
    so "tasks assigned to them" cannot be widened by reassigning."""
    viewer.require(P.TASK_MANAGE)
    if viewer.has(P.TASK_ASSIGN) or current == new:
        return
    if (current is None and new == viewer.user_id) or (current == viewer.user_id and new is None):
        return
    raise Forbidden(
        P.TASK_ASSIGN.value,
        f"role {viewer.role_name} may only take unassigned tasks for themselves "
        f"or give back their own ({P.TASK_ASSIGN.value})",
    )


def require_code_access(viewer: Viewer, owner_id: uuid.UUID | None) -> None:
    """Admins submit and review any code; developers only their own artifacts."""
    viewer.require_login()
    if viewer.has(P.CODE_ANY):
        return
    if viewer.has(P.CODE_OWN) and (owner_id is None or owner_id == viewer.user_id):
        return
    missing = P.CODE_OWN if owner_id is None or owner_id == viewer.user_id else P.CODE_ANY
    raise Forbidden(missing.value, f"role {viewer.role_name} may not submit or review this code ({missing.value})")


def require_test_run(viewer: Viewer, test_type: TestType) -> None:
    viewer.require_login()
    if viewer.has(P.TEST_RUN_ANY) or (viewer.has(P.TEST_RUN_UNIT) and test_type is TestType.UNIT):
        return
    missing = P.TEST_RUN_UNIT if test_type is TestType.UNIT else P.TEST_RUN_ANY
    raise Forbidden(missing.value, f"role {viewer.role_name} may not run {test_type.value} tests ({missing.value})")


def require_deploy(viewer: Viewer, environment: Environment) -> None:
    viewer.require_login()
    if viewer.has(P.DEPLOY_ANY) or (viewer.has(P.DEPLOY_DEV) and environment is Environment.DEV):
        return
    missing = P.DEPLOY_DEV if environment is Environment.DEV else P.DEPLOY_ANY
    raise Forbidden(missing.value, f"role {viewer.role_name} may not deploy to {environment.value} ({missing.value})")


def require_second_person(viewer: Viewer, requester: uuid.UUID | None, decision: str) -> bool:
    """Four eyes: a deployment awaiting approval is approved or rejected by someone other than its requester.

    A super admin may decide on their own request; returns True for that override, so the caller audits it."""
    viewer.require(P.DEPLOY_APPROVE)
    if requester is None or requester != viewer.user_id:
        return False
    if viewer.is_super_admin:
        return True
    raise Forbidden(
        FOUR_EYES,
        f"the requester of a deployment may not {decision} it: another project admin must ({FOUR_EYES})",
    )
