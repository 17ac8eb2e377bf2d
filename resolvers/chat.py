"""AI chat: conversations, messages, cancelling a reply, and a conversation's live updates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from domain.chat import ChatUpdate
from domain.errors import InvalidInput
from resolvers.context import RequestContext
from resolvers.ids import decode_id, decode_optional
from resolvers.listing import ConnectionArgs, to_list_query
from resolvers.subscriptions import follower

# `about` input field -> (subject type, GraphQL argument name for errors)
ABOUT_FIELDS = {
    "requirement_id": ("Requirement", "about.requirementId"),
    "task_id": ("Task", "about.taskId"),
    "artifact_id": ("CodeArtifact", "about.artifactId"),
    "deployment_id": ("Deployment", "about.deploymentId"),
}


async def start_conversation(ctx: RequestContext, project_id: str, about: Any, title: str | None):
    given = [(name, value) for name, value in vars(about).items() if value is not None]
    if len(given) != 1:
        raise InvalidInput("about needs exactly one of requirementId, taskId, artifactId, deploymentId", field="about")
    [(name, value)] = given
    subject_type, field = ABOUT_FIELDS[name]
    return await ctx.services.chat.start(
        ctx.viewer,
        decode_id(project_id, "Project", "projectId"),
        subject_type,
        decode_id(value, subject_type, field),
        title,
    )


async def send_message(ctx: RequestContext, conversation_id: str, text: str):
    return await ctx.services.chat.send(ctx.viewer, decode_id(conversation_id, "Conversation", "conversationId"), text)


async def cancel_message(ctx: RequestContext, message_id: str):
    return await ctx.services.chat.cancel(ctx.viewer, decode_id(message_id, "ChatMessage", "messageId"))


async def delete_conversation(ctx: RequestContext, conversation_id: str) -> str:
    await ctx.services.chat.delete(ctx.viewer, decode_id(conversation_id, "Conversation", "id"))
    return conversation_id


async def list_conversations(ctx: RequestContext, project_id: str | None, args: ConnectionArgs):
    project = decode_optional(project_id, "Project", "projectId")
    return await ctx.services.chat.list_conversations(ctx.viewer, project, to_list_query(args))


async def messages(ctx: RequestContext, conversation: Any):
    return await ctx.services.chat.messages(ctx.viewer, conversation)


def conversation_updates(ctx: RequestContext, global_id: str) -> AsyncIterator[ChatUpdate]:
    return ctx.services.chat.updates(follower(ctx), decode_id(global_id, "Conversation", "id"))
