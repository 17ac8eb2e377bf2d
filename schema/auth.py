"""Sign-in mutations, the session payload, and the audit log query."""

import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain import model, repos
from resolvers import auth, relations
from resolvers.context import RequestContext
from resolvers.listing import ConnectionArgs
from schema import enums as e
from schema.relay import Connection, Node, node_id, rows_only
from schema.types import UserNode


@strawberry.type(description="Tokens for `Authorization: Bearer <accessToken>`; refresh before `expiresAt`.")
class AuthPayload:
    access_token: str
    refresh_token: str
    expires_at: datetime.datetime
    user: UserNode


@strawberry.enum(description="Whether an audited action was carried out or refused.")
class AuditOutcome(Enum):
    OK = "OK"
    DENIED = "DENIED"


@strawberry.type(name="AuditEntry")
class AuditNode(Node):
    id: strawberry.ID = node_id("AuditEntry")
    action: str
    outcome: AuditOutcome
    entity_type: str
    entity_id: str | None
    before: JSON | None
    after: JSON | None
    request_id: str | None
    client_address: str | None
    at: datetime.datetime
    is_type_of = classmethod(lambda cls, obj, _info: isinstance(obj, model.AuditEntry))

    @strawberry.field
    async def actor(
        self, root: strawberry.Parent[model.AuditEntry], info: Info[RequestContext, None]
    ) -> UserNode | None:
        return await relations.one(info.context, repos.USERS, root.actor_id)


@strawberry.enum
class AuditOrderField(Enum):
    AT = "at"
    ACTION = "action"


@strawberry.input
class AuditOrder:
    field: AuditOrderField = AuditOrderField.AT
    direction: e.SortDirection = e.SortDirection.DESC


@strawberry.input
class AuditFilter:
    actor_id: strawberry.ID | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    outcome: AuditOutcome | None = None
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None


def _payload(session) -> AuthPayload:
    return AuthPayload(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        expires_at=session.expires_at,
        user=session.user,
    )


@strawberry.type
class AuthQuery:
    @strawberry.field(description="Who did what, when, from where (super admins). Newest first by default.")
    async def audit_log(
        self,
        info: Info[RequestContext, None],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: AuditFilter | None = None,
        order_by: AuditOrder | None = None,
    ) -> Connection[AuditNode]:
        f = filter or AuditFilter()
        order = order_by or AuditOrder()
        return await auth.audit_log(
            info.context,
            ConnectionArgs(first, after, last, before, None, order, "at", rows_only=rows_only(info)),
            since=f.since,
            until=f.until,
            actor_id=f.actor_id,
            entity_type=f.entity_type,
            entity_id=f.entity_id,
            action=f.action,
            outcome=f.outcome.value if f.outcome else None,
        )


@strawberry.type
class AuthMutation:
    @strawberry.mutation(description="Create an account (role GUEST until an admin grants more) and sign in.")
    async def register(self, info: Info[RequestContext, None], username: str, email: str, password: str) -> AuthPayload:
        return _payload(await auth.register(info.context, username, email, password))

    @strawberry.mutation(description="Sign in with a username or email. Failures never say which part was wrong.")
    async def login(self, info: Info[RequestContext, None], username: str, password: str) -> AuthPayload:
        return _payload(await auth.login(info.context, username, password))

    @strawberry.mutation(description="Trade a refresh token (single use) for a new pair; reuse revokes the sign-in.")
    async def refresh_token(self, info: Info[RequestContext, None], refresh_token: str) -> AuthPayload:
        return _payload(await auth.refresh(info.context, refresh_token))

    @strawberry.mutation(description="Revoke this access token and its sign-in on every replica.")
    async def logout(self, info: Info[RequestContext, None], refresh_token: str | None = None) -> bool:
        return await auth.logout(info.context, refresh_token)

    @strawberry.mutation
    async def change_password(self, info: Info[RequestContext, None], current_password: str, new_password: str) -> bool:
        return await auth.change_password(info.context, current_password, new_password)
