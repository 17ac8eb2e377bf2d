"""AI chat: conversations about a project's objects, sending a message (which queues the reply job), cancelling a
reply, deleting, and following a conversation live (streamed deltas, then each message as it is stored)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from domain import validation as v
from domain.chat import ChatUpdate
from domain.enums import ChatMessageStatus, ChatRole, JobStatus, Role
from domain.errors import Conflict, Forbidden, InvalidInput
from domain.events import DomainEvent, entity_topic
from domain.model import ChatMessage, Conversation
from domain.paging import ListQuery, Page
from domain.permissions import Permission, Viewer
from domain.repos import ARTIFACTS, CHAT_MESSAGES, CONVERSATIONS, DEPLOYMENTS, REQUIREMENTS, TASKS, Repo
from domain.services.access import EntityReads, load, load_in_project, require_member
from domain.services.base import Deps, Tx
from domain.services.jobs import TERMINAL, JobService, request_job
from domain.services.live import Follower, LiveUpdates

CHAT_JOB = "ai.chat"
MAX_MESSAGE = 10_000
# What a conversation may be about: its subject_type -> the repository that holds it.
SUBJECTS: dict[str, Repo[Any]] = {
    "Requirement": REQUIREMENTS,
    "Task": TASKS,
    "CodeArtifact": ARTIFACTS,
    "Deployment": DEPLOYMENTS,
}
ENDED = (ChatMessageStatus.COMPLETE, ChatMessageStatus.INCOMPLETE, ChatMessageStatus.CANCELLED)


def _subject_title(subject: Any) -> str:
    for attribute in ("title", "name", "file_path"):
        if value := getattr(subject, attribute, None):
            return str(value)
    return f"{subject.environment.value} deployment {subject.version}"


def message_event(tx: Tx, conversation: Conversation, message: ChatMessage) -> None:
    """Announce a stored message to the conversation's followers (and the project's)."""
    tx.emit(
        "Conversation",
        conversation.id,
        "message",
        project_id=conversation.project_id,
        new_status=message.status,
        data={"messageId": message.id, "role": message.role},
    )


class ChatService:
    def __init__(self, deps: Deps, jobs: JobService, live: LiveUpdates):
        self.deps = deps
        self.jobs = jobs
        self.live = live
        self.conversations = EntityReads(deps, CONVERSATIONS, Permission.REQUIREMENT_READ)
        self.message_reads = EntityReads(deps, CHAT_MESSAGES, Permission.REQUIREMENT_READ)

    async def get(self, viewer: Viewer, conversation_id: uuid.UUID) -> Conversation:
        return await self.conversations.get(viewer, conversation_id)

    async def list_conversations(
        self, viewer: Viewer, project_id: uuid.UUID | None, query: ListQuery
    ) -> Page[Conversation]:
        """The viewer's projects' conversations (one project's when `project_id` is given)."""
        if project_id is not None:
            async with self.deps.uow() as uow:
                viewer.require(Permission.REQUIREMENT_READ)
                await require_member(uow, viewer, project_id)
            query = dataclasses.replace(query, filters=(*query.filters, ("project_id", project_id)))
        return await self.conversations.list(viewer, query)

    async def messages(self, viewer: Viewer, conversation: Conversation) -> list[ChatMessage]:
        async with self.deps.uow() as uow:
            viewer.require(Permission.REQUIREMENT_READ)
            await require_member(uow, viewer, conversation.project_id)
            found = await uow.chat_messages.find(conversation_id=conversation.id)
        return sorted(found, key=lambda m: m.seq)

    async def start(
        self, viewer: Viewer, project_id: uuid.UUID, subject_type: str, subject_id: uuid.UUID, title: str | None
    ) -> Conversation:
        """A conversation about a project's requirement, task, artifact or deployment, for whoever may read it."""
        async with Tx(self.deps, viewer, "conversation.create") as tx:
            repo = SUBJECTS.get(subject_type)
            if repo is None:
                raise InvalidInput(f"a conversation cannot be about a {subject_type}", field="about")
            subject = await load_in_project(tx.uow, viewer, repo, subject_id, Permission.REQUIREMENT_READ)
            if subject.project_id != project_id:
                raise InvalidInput(f"{subject_type} {subject_id} is not in project {project_id}", field="projectId")
            now = tx.now()
            conversation = Conversation(
                project_id=project_id,
                subject_type=subject_type,
                subject_id=subject_id,
                title=v.text(title, "title", max_length=200, required=False) or _subject_title(subject)[:200],
                created_by=viewer.user_id,
                created_at=now,
                updated_at=now,
            )
            tx.created(CONVERSATIONS, conversation, "conversation.create", project_id=project_id, new_status=None)
        return conversation

    async def send(self, viewer: Viewer, conversation_id: uuid.UUID, text: str) -> ChatMessage:
        """Store the viewer's message and a STREAMING reply, and queue the job that answers; returns the reply."""
        async with Tx(self.deps, viewer, "chat.send") as tx:
            # The conversation's row lock serialises the message numbers and the one-reply-at-a-time check.
            conversation = await load_in_project(
                tx.uow, viewer, CONVERSATIONS, conversation_id, Permission.REQUIREMENT_READ, for_update=True
            )
            body = v.text(text, "text", max_length=MAX_MESSAGE) or ""
            existing = await tx.uow.chat_messages.find(conversation_id=conversation.id)
            for streaming in [m for m in existing if m.status is ChatMessageStatus.STREAMING]:
                await self._end_if_orphaned(tx, conversation, streaming)
            seq = max((m.seq for m in existing), default=0)
            now = tx.now()

            def message(role: ChatRole, number: int, content: str, status: ChatMessageStatus) -> ChatMessage:
                return ChatMessage(
                    conversation_id=conversation.id,
                    project_id=conversation.project_id,
                    role=role,
                    seq=number,
                    content=content,
                    status=status,
                    created_by=viewer.user_id,
                    created_at=now,
                    updated_at=now,
                )

            asked = message(ChatRole.USER, seq + 1, body, ChatMessageStatus.COMPLETE)
            reply = message(ChatRole.ASSISTANT, seq + 2, "", ChatMessageStatus.STREAMING)
            # One attempt: a retried answer would stream its tokens twice.
            job = await request_job(
                tx,
                kind=CHAT_JOB,
                subject_type="ChatMessage",
                subject_id=reply.id,
                project_id=conversation.project_id,
                payload={"conversationId": str(conversation.id)},
                max_attempts=1,
            )
            reply.job_id = job.id
            for m in (asked, reply):
                tx.uow.chat_messages.add(m)
                tx.audit("chat.send", "ChatMessage", m.id, None, {"role": m.role.value, "seq": m.seq})
                message_event(tx, conversation, m)
            conversation.updated_at = now
        return reply

    @staticmethod
    async def _end_if_orphaned(tx: Tx, conversation: Conversation, reply: ChatMessage) -> None:
        """A STREAMING reply whose job has ended without ending it (cancelled before it ran, or lost with its worker)
        is ended now; one still being answered refuses a new message."""
        job = await tx.uow.jobs.get(reply.job_id) if reply.job_id else None
        if job is not None and job.status not in TERMINAL:
            raise Conflict("the assistant is still answering; wait for the reply or cancel it")
        row = await load(tx.uow.chat_messages, "ChatMessage", reply.id, for_update=True)
        if row.status is not ChatMessageStatus.STREAMING:
            return
        cancelled = job is not None and job.status is JobStatus.CANCELLED
        row.status = ChatMessageStatus.CANCELLED if cancelled else ChatMessageStatus.INCOMPLETE
        row.error = None if cancelled else f"the reply's job ended without it: {job.error if job else 'no job'}"
        row.updated_at = tx.now()
        tx.audit("chat.end", "ChatMessage", row.id, {"status": "STREAMING"}, {"status": row.status.value})
        message_event(tx, conversation, row)

    async def cancel(self, viewer: Viewer, message_id: uuid.UUID) -> ChatMessage:
        """Stop a streaming reply: its job is cancelled (which closes the model's stream); the text so far is kept."""
        async with self.deps.uow() as uow:
            reply = await load_in_project(uow, viewer, CHAT_MESSAGES, message_id, Permission.REQUIREMENT_READ)
        if reply.status is not ChatMessageStatus.STREAMING or reply.job_id is None:
            raise InvalidInput(
                f"message is {reply.status.value}; only a streaming reply can be cancelled",
                field="messageId",
                details={"currentStatus": reply.status.value},
            )
        job = await self.jobs.get(viewer, reply.job_id)
        if job.status not in TERMINAL:
            job = await self.jobs.cancel(viewer, reply.job_id)
            if job.cancel_requested:
                return reply  # running: the job ends the message when it stops
        # Cancelled before it ran, or its job ended without ending it.
        return await self.end_reply(viewer, reply.id, ChatMessageStatus.CANCELLED, error=None) or reply

    async def end_reply(
        self, viewer: Viewer, message_id: uuid.UUID, status: ChatMessageStatus, *, error: str | None
    ) -> ChatMessage | None:
        """Mark a reply as ended that its job will not end (cancelled before it ran, or lost)."""
        async with Tx(self.deps, viewer, "chat.end") as tx:
            reply = await tx.uow.chat_messages.get_for_update(message_id)
            if reply is None or reply.status is not ChatMessageStatus.STREAMING:
                return reply
            conversation = await load(tx.uow.conversations, "Conversation", reply.conversation_id)
            reply.status, reply.error, reply.updated_at = status, error, tx.now()
            tx.audit("chat.end", "ChatMessage", reply.id, {"status": "STREAMING"}, {"status": status.value})
            message_event(tx, conversation, reply)
        return reply

    async def delete(self, viewer: Viewer, conversation_id: uuid.UUID) -> uuid.UUID:
        async with Tx(self.deps, viewer, "conversation.delete") as tx:
            conversation = await load_in_project(
                tx.uow, viewer, CONVERSATIONS, conversation_id, Permission.REQUIREMENT_READ, for_update=True
            )
            if viewer.user_id != conversation.created_by and viewer.role not in (Role.SUPER_ADMIN, Role.PROJECT_ADMIN):
                raise Forbidden("conversation:delete", "only its creator or a project admin may delete a conversation")
            for m in await tx.uow.chat_messages.find(conversation_id=conversation.id):
                await tx.uow.chat_messages.delete(m)
            await tx.deleted(CONVERSATIONS, conversation, "conversation.delete", project_id=conversation.project_id)
        return conversation_id

    async def updates(self, follower: Follower, conversation_id: uuid.UUID) -> AsyncIterator[ChatUpdate]:
        """A snapshot, then each delta and each stored message of the conversation, while the viewer may read it."""
        conversation = await self.get(follower.viewer, conversation_id)
        topics = [
            entity_topic("Conversation", str(conversation_id)),
            entity_topic("Project", str(conversation.project_id)),
        ]

        def check(viewer: Viewer) -> Awaitable[Conversation]:
            return self.get(viewer, conversation_id)

        def wanted(event: DomainEvent) -> bool:
            return event.entity_type == "Conversation" and event.entity_id == str(conversation_id)

        async with self.live.follow(follower, topics, check, wanted) as events:
            latest = (await self.messages(follower.viewer, await check(follower.viewer)))[-1:]
            yield ChatUpdate("SNAPSHOT", latest[0].id if latest else None, message=latest[0] if latest else None)
            async for event in events:
                if event.action == "deleted":
                    return
                message_id = uuid.UUID(str(event.data["messageId"]))
                if event.action == "delta":
                    yield ChatUpdate("DELTA", message_id, index=event.data["index"], delta=event.data["text"])
                elif event.action == "message":
                    async with self.deps.uow() as uow:
                        stored = await uow.chat_messages.get(message_id)
                    if stored is not None:
                        yield ChatUpdate("MESSAGE", message_id, message=stored)
