"""AI chat in the schema: conversations and messages, their mutations, and `conversationUpdated` (streamed replies)."""

import datetime
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.types import Info

from domain import repos
from domain.chat import ChatUpdate
from domain.enums import ChatMessageStatus, ChatRole
from domain.model import ChatMessage, Conversation  # ChatMessageNode has a field named `model`
from domain.paging import Page
from resolvers import chat, nodes, relations, subscriptions
from resolvers.context import RequestContext
from resolvers.ids import to_global_id
from resolvers.listing import ConnectionArgs
from schema.pipeline_types import JobNode
from schema.relay import Connection, Node, node_id, ref_id, rows_only
from schema.types import UserNode

strawberry.enum(ChatRole)
strawberry.enum(ChatMessageStatus)


@strawberry.type(description="What an answer used: a context item of the project.")
class Citation:
    kind: str = strawberry.field(description="requirement, prd, task, test, artifact, deployment or a search kind.")
    title: str

    entity_type: strawberry.Private[str]
    entity_id: strawberry.Private[str]

    @strawberry.field(description="Global id of the cited object (for a failing test: its TestResult).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id(self.entity_type, self.entity_id))


@strawberry.type(name="ChatMessage")
class ChatMessageNode(Node):
    id: strawberry.ID = node_id("ChatMessage")
    conversation_id: strawberry.ID = ref_id("Conversation", "conversation_id")
    role: ChatRole
    seq: int
    content: str
    status: ChatMessageStatus = strawberry.field(
        description="STREAMING while the assistant answers; INCOMPLETE (with `error`) or CANCELLED keep what arrived."
    )
    error: str | None
    model: str | None
    input_tokens: int
    output_tokens: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    is_type_of = classmethod(lambda cls, obj, _info: isinstance(obj, ChatMessage))

    @strawberry.field(description="Estimated USD cost of this reply (list prices).")
    def cost_usd(self, root: strawberry.Parent[ChatMessage]) -> float:
        return float(root.cost_usd)

    @strawberry.field
    def citations(self, root: strawberry.Parent[ChatMessage]) -> list[Citation]:
        return [
            Citation(kind=c["kind"], title=c["title"], entity_type=c["entityType"], entity_id=c["id"])
            for c in root.citations
        ]

    @strawberry.field(description="The job that streams this reply (assistant messages).")
    async def job(self, root: strawberry.Parent[ChatMessage], info: Info[RequestContext, None]) -> JobNode | None:
        return await relations.one(info.context, repos.JOBS, root.job_id)


@strawberry.type(name="Conversation")
class ConversationNode(Node):
    id: strawberry.ID = node_id("Conversation")
    project_id: strawberry.ID = ref_id("Project", "project_id")
    title: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    is_type_of = classmethod(lambda cls, obj, _info: isinstance(obj, Conversation))

    @strawberry.field(description="Global id of what the conversation is about.")
    def about_id(self, root: strawberry.Parent[Conversation]) -> strawberry.ID:
        return strawberry.ID(to_global_id(root.subject_type, root.subject_id))

    @strawberry.field(description="Requirement, Task, CodeArtifact or Deployment.")
    def about_type(self, root: strawberry.Parent[Conversation]) -> str:
        return root.subject_type

    @strawberry.field
    async def created_by(
        self, root: strawberry.Parent[Conversation], info: Info[RequestContext, None]
    ) -> UserNode | None:
        return await relations.one(info.context, repos.USERS, root.created_by)

    @strawberry.field(description="Every message, oldest first.")
    async def messages(
        self, root: strawberry.Parent[Conversation], info: Info[RequestContext, None]
    ) -> list[ChatMessageNode]:
        return await chat.messages(info.context, root)


@strawberry.type(
    description="SNAPSHOT (the latest message when subscribed), DELTA (text appended to a streaming "
    "reply; `index` counts from 0 per message) or MESSAGE (a message as stored, e.g. a finished reply)."
)
class ConversationUpdate:
    kind: str
    index: int | None
    delta: str | None
    message: ChatMessageNode | None

    message_uuid: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    def message_id(self) -> strawberry.ID | None:
        return None if self.message_uuid is None else strawberry.ID(to_global_id("ChatMessage", self.message_uuid))


def _update(u: ChatUpdate) -> ConversationUpdate:
    return ConversationUpdate(
        kind=u.kind,
        index=u.index,
        delta=u.delta,
        message=u.message,  # type: ignore[arg-type]  # an entity served as a node
        message_uuid=u.message_id,
    )


@strawberry.input(description="Exactly one: what the conversation is about.")
class ChatAboutInput:
    requirement_id: strawberry.ID | None = None
    task_id: strawberry.ID | None = None
    artifact_id: strawberry.ID | None = None
    deployment_id: strawberry.ID | None = None


@strawberry.type
class ChatQuery:
    @strawberry.field
    async def conversation(self, info: Info[RequestContext, None], id: strawberry.ID) -> ConversationNode:
        return await nodes.by_id(info.context, "Conversation", id)

    @strawberry.field(description="Conversations of your projects (of one project with projectId), oldest first.")
    async def conversations(
        self,
        info: Info[RequestContext, None],
        project_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ConversationNode]:
        page: Page[Any] = await chat.list_conversations(
            info.context, project_id, ConnectionArgs(first, after, last, before, rows_only=rows_only(info))
        )
        return page  # type: ignore[return-value]  # a Connection is served from a Page (its fields' root)


@strawberry.type
class ChatMutation:
    @strawberry.mutation(
        description="Start a conversation with the assistant about a requirement, task, artifact or "
        "deployment of the project."
    )
    async def start_conversation(
        self,
        info: Info[RequestContext, None],
        project_id: strawberry.ID,
        about: ChatAboutInput,
        title: str | None = None,
    ) -> ConversationNode:
        return await chat.start_conversation(info.context, project_id, about, title)

    @strawberry.mutation(
        description="Ask the assistant; returns its reply, STREAMING until the job behind it ends "
        "(follow it with conversationUpdated)."
    )
    async def send_message(
        self, info: Info[RequestContext, None], conversation_id: strawberry.ID, text: str
    ) -> ChatMessageNode:
        return await chat.send_message(info.context, conversation_id, text)

    @strawberry.mutation(description="Stop a streaming reply; the text received so far is kept, marked CANCELLED.")
    async def cancel_message(self, info: Info[RequestContext, None], message_id: strawberry.ID) -> ChatMessageNode:
        return await chat.cancel_message(info.context, message_id)

    @strawberry.mutation
    async def delete_conversation(self, info: Info[RequestContext, None], id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(await chat.delete_conversation(info.context, id))


@strawberry.type
class ChatSubscription:
    @strawberry.subscription(description="A snapshot, then each message and each streamed delta of the conversation.")
    async def conversation_updated(
        self, info: Info[RequestContext, None], id: strawberry.ID
    ) -> AsyncGenerator[ConversationUpdate, None]:
        async for update in subscriptions.until_closed(info.context, chat.conversation_updates(info.context, id)):
            yield _update(update)
