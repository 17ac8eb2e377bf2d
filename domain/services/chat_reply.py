"""The "ai.chat" job step: build the context, stream the model's answer as delta events, store the reply with its
citations and usage; an error keeps the text received (INCOMPLETE), a cancellation too (CANCELLED)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from domain.ai_cost import estimate_cost
from domain.enums import ChatMessageStatus, ChatRole
from domain.errors import DomainError
from domain.events import DomainEvent
from domain.model import ChatMessage, Job
from domain.permissions import Viewer
from domain.ports import LLM, ChatTurn, LLMFactory, SecretBox, StreamUsage
from domain.services.base import Deps, Tx
from domain.services.chat import ENDED, message_event
from domain.services.chat_context import ContextItem, SearchFn, build_context, cited, merge, system_prompt
from domain.services.pipeline_steps import job_viewer
from domain.services.prompting import default_llm

MAX_HISTORY = 20


@dataclass
class _Received:
    parts: list[str] = field(default_factory=list)
    usage: StreamUsage | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _describe(exc: BaseException) -> str:
    return exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"


class ChatReplies:
    def __init__(self, deps: Deps, llms: LLMFactory, secrets: SecretBox, search: SearchFn | None = None):
        self.deps = deps
        self.llms = llms
        self.secrets = secrets
        self.search = search

    async def _llm(self) -> LLM:
        return await default_llm(self.deps.uow(), self.llms, self.secrets)

    async def _inputs(self, job: Job) -> tuple[ChatMessage, list[ChatTurn], list[ContextItem]] | None:
        async with self.deps.uow() as uow:
            reply = await uow.chat_messages.get(job.subject_id)
            if reply is None or reply.status in ENDED:
                return None  # deleted, or ended (cancelled) before the job ran
            conversation = await uow.conversations.get(reply.conversation_id)
            if conversation is None:
                return None
            earlier = [m for m in await uow.chat_messages.find(conversation_id=conversation.id) if m.seq < reply.seq]
            items = await build_context(uow, conversation)
            requester = await uow.users.get(job.requested_by) if job.requested_by else None
        earlier.sort(key=lambda m: m.seq)
        turns = [
            ChatTurn("user" if m.role is ChatRole.USER else "assistant", m.content)
            for m in earlier[-MAX_HISTORY:]
            if m.content
        ]
        if self.search is not None and turns and requester is not None:
            # Searched as the requester: their role and membership scope what the search may return.
            viewer = Viewer(user_id=requester.id, role=requester.role, request_id=f"job:{job.id}")
            items = merge(items, await self.search(viewer, conversation, turns[-1].text))
        return reply, turns, items

    async def answer(self, job: Job) -> dict[str, Any]:
        inputs = await self._inputs(job)
        if inputs is None:
            return {"skipped": "the reply was deleted or ended before it was answered"}
        reply, turns, items = inputs
        llm = await self._llm()
        received = _Received()
        topic_id = str(reply.conversation_id)
        stream = llm.stream_text(
            system=system_prompt(items),
            messages=turns,
            context={"items": [item.as_dict(n) for n, item in enumerate(items, 1)]},
        )
        try:
            async with contextlib.aclosing(stream):  # type: ignore[type-var]  # an async generator in practice
                async for piece in stream:
                    if isinstance(piece, StreamUsage):
                        received.usage = piece
                        continue
                    index = len(received.parts)
                    received.parts.append(piece)
                    # Deltas go to the conversation's followers only (no project_id): too many for project feeds.
                    await self.deps.bus.publish(
                        DomainEvent(
                            entity_type="Conversation",
                            entity_id=topic_id,
                            action="delta",
                            at=self.deps.clock.now(),
                            data={"messageId": str(reply.id), "index": index, "text": piece},
                        )
                    )
        except asyncio.CancelledError:
            await asyncio.shield(self._store(job, reply, received, items, ChatMessageStatus.CANCELLED, None))
            raise
        except Exception as exc:
            error = f"the answer stopped early: {_describe(exc)}"
            await self._store(job, reply, received, items, ChatMessageStatus.INCOMPLETE, error)
            raise
        await self._store(job, reply, received, items, ChatMessageStatus.COMPLETE, None)
        usage = received.usage
        return {
            "messageId": str(reply.id),
            "characters": len(received.text),
            "citations": len(cited(received.text, items)),
            "model": usage.model if usage else None,
        }

    async def _store(
        self,
        job: Job,
        reply: ChatMessage,
        received: _Received,
        items: list[ContextItem],
        status: ChatMessageStatus,
        error: str | None,
    ) -> None:
        """Write the reply as it ended and add its usage to the job, in one transaction."""
        usage = received.usage
        cost = estimate_cost(usage.model, usage.input_tokens, usage.output_tokens) if usage else Decimal(0)
        async with Tx(self.deps, job_viewer(job), "ai.chat") as tx:
            row = await tx.uow.chat_messages.get_for_update(reply.id)
            if row is None or row.status in ENDED:
                return
            conversation = await tx.uow.conversations.get(row.conversation_id)
            row.content, row.status, row.error = received.text, status, error
            row.citations = cited(received.text, items)
            if usage is not None:
                row.model, row.input_tokens, row.output_tokens = usage.model, usage.input_tokens, usage.output_tokens
                row.cost_usd = cost
                job_row = await tx.uow.jobs.get_for_update(job.id)
                if job_row is not None:
                    job_row.input_tokens += usage.input_tokens
                    job_row.output_tokens += usage.output_tokens
                    job_row.cost_usd = Decimal(job_row.cost_usd) + cost
            row.updated_at = tx.now()
            tx.audit(
                "ai.chat",
                "ChatMessage",
                row.id,
                {"status": "STREAMING"},
                {"status": status.value, "characters": len(row.content), "citations": len(row.citations)},
            )
            if conversation is not None:
                message_event(tx, conversation, row)
