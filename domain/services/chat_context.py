"""What the assistant sees of a project: a conversation's numbered context items, and which ones an answer cited."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from domain.enums import TestRunStatus
from domain.model import CodeArtifact, Conversation, Deployment, Requirement, Task, TestResult
from domain.permissions import Viewer
from domain.ports import UnitOfWork

MAX_TASKS = 30
MAX_FAILING_TESTS = 20
MAX_DEPLOYMENTS = 3
MAX_SEARCH_HITS = 5
MAX_TEXT = 2_000
CITATION = re.compile(r"\[(\d{1,3})\]")
# A pytest node id (tests/test_x.py::test_y[param]), else a bare test function name (not a test_*.py file name).
NODE_ID = re.compile(r"[\w./-]+\.py::[\w\[\]-]+(?:::[\w\[\]-]+)*")
TEST_NAME = re.compile(r"\btest_\w+\b(?!\.py)")

# Search of the conversation's project for the question (domain/services/chat_search.py); None until it is wired:
# the context is then built without it.
SearchFn = Callable[[Viewer, Conversation, str], Awaitable[Sequence["ContextItem"]]]


@dataclass(frozen=True)
class ContextItem:
    """One thing the assistant may cite: `kind` (requirement, prd, task, test, deployment, artifact, conversation),
    the entity's type and id, a title and the text the model reads."""

    kind: str
    entity_type: str
    entity_id: str
    title: str
    text: str
    facts: dict[str, Any]

    def citation(self) -> dict[str, Any]:
        return {"kind": self.kind, "entityType": self.entity_type, "id": self.entity_id, "title": self.title}

    def as_dict(self, number: int) -> dict[str, Any]:
        return {"n": number, **self.citation(), "text": self.text, "facts": self.facts}


def _clip(text: str | None) -> str:
    text = (text or "").strip()
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def failing_tests(result: TestResult, artifact: CodeArtifact | None, task: Task | None = None) -> list[ContextItem]:
    """The failing tests of one run, one item per named test when the run names them (TestResult.report
    `failures`/`tests`, or test names in the error message), else one item for the run."""
    where = artifact.file_path if artifact else str(result.artifact_id)
    facts: dict[str, Any] = {"artifact": where, "testType": result.test_type.value}
    facts.update({"failed": result.failed, "total": result.total})
    if task is not None:
        facts["task"] = task.name
    named: dict[str, str] = {}
    report = result.report if isinstance(result.report, dict) else {}
    for entry in [*(report.get("failures") or []), *(report.get("tests") or [])]:
        if not isinstance(entry, dict):
            continue
        outcome = str(entry.get("outcome") or entry.get("status") or "failed").lower()
        name = entry.get("name") or entry.get("nodeid") or entry.get("test")
        if name and outcome in ("failed", "error", "failure"):
            message = entry.get("message") or entry.get("error") or entry.get("longrepr") or ""
            named.setdefault(str(name), str(message))
    if not named:
        message = result.error_message or ""
        for name in NODE_ID.findall(message) or TEST_NAME.findall(message):
            named.setdefault(name, message)
    base = {"kind": "test", "entity_type": "TestResult", "entity_id": str(result.id)}
    if not named:
        title = f"{result.failed} failing {result.test_type.value.lower()} test(s) in {where}"
        return [ContextItem(**base, title=title, text=_clip(result.error_message), facts=facts)]
    return [ContextItem(**base, title=name, text=_clip(message), facts=facts) for name, message in named.items()]


def _is_failing(result: TestResult) -> bool:
    return result.failed > 0 or result.status in (TestRunStatus.FAILED, TestRunStatus.ERROR)


def _requirement_item(req: Requirement) -> ContextItem:
    facts = {"status": req.status.value, "priority": req.priority.value}
    return ContextItem("requirement", "Requirement", str(req.id), req.title, _clip(req.content), facts)


def _task_item(task: Task) -> ContextItem:
    facts = {"status": task.status.value, "type": task.task_type.value}
    return ContextItem("task", "Task", str(task.id), task.name, _clip(task.description), facts)


def _deployment_item(d: Deployment) -> ContextItem:
    title = f"{d.environment.value} deployment {d.version}"
    facts = {"status": d.status.value}
    return ContextItem("deployment", "Deployment", str(d.id), title, _clip(d.logs[-MAX_TEXT:]), facts)


async def _subject_requirement(uow: UnitOfWork, conversation: Conversation) -> tuple[Requirement | None, list[Any]]:
    """The requirement behind the conversation's subject (if any), and the subject's own items."""
    kind, sid = conversation.subject_type, conversation.subject_id
    if kind == "Requirement":
        return await uow.requirements.get(sid), []
    if kind == "Task":
        task = await uow.tasks.get(sid)
        return (await uow.requirements.get(task.requirement_id) if task else None), []
    if kind == "CodeArtifact":
        artifact = await uow.artifacts.get(sid)
        task = await uow.tasks.get(artifact.task_id) if artifact else None
        item = (
            ContextItem(
                "artifact",
                "CodeArtifact",
                str(artifact.id),
                artifact.file_path,
                "",
                {"version": artifact.version, "language": artifact.language, "review": artifact.review_status.value},
            )
            if artifact
            else None
        )
        return (await uow.requirements.get(task.requirement_id) if task else None), [item] if item else []
    if kind == "Deployment":
        deployment = await uow.deployments.get(sid)
        return None, [_deployment_item(deployment)] if deployment else []
    return None, []


async def build_context(uow: UnitOfWork, conversation: Conversation) -> list[ContextItem]:
    """The requirement, its PRD, its tasks and their statuses, failing tests and recent deployments of the project."""
    req, own = await _subject_requirement(uow, conversation)
    items = list(own)  # the subject first, when it is not the requirement itself
    if req is not None:
        items.append(_requirement_item(req))
        prd = await uow.prds.get(req.prd_document_id) if req.prd_document_id else None
        if prd is not None:
            text = "\n".join(f"{s.get('title', '')}: {s.get('content', '')}" for s in prd.sections)
            items.append(
                ContextItem("prd", "PrdDocument", str(prd.id), f"PRD v{prd.version} of {req.title}", _clip(text), {})
            )
        tasks = await uow.tasks.find(requirement_id=req.id)
    else:
        tasks = await uow.tasks.find(project_id=conversation.project_id)
    if conversation.subject_type == "Task":
        tasks.sort(key=lambda t: t.id != conversation.subject_id)  # the subject first
    tasks = tasks[:MAX_TASKS]
    items.extend(_task_item(t) for t in tasks)
    artifacts = {a.id: a for a in await uow.artifacts.find_in("task_id", [t.id for t in tasks])}
    results = (
        await uow.test_results.find_in("artifact_id", list(artifacts))
        if req is not None
        else await uow.test_results.find(project_id=conversation.project_id)
    )
    failing = sorted((r for r in results if _is_failing(r)), key=lambda r: r.executed_at or r.id, reverse=True)
    by_id = {t.id: t for t in tasks}

    def task_of(artifact: CodeArtifact | None) -> Task | None:
        return by_id.get(artifact.task_id) if artifact else None

    tests = [
        item
        for r in failing
        for item in failing_tests(r, artifacts.get(r.artifact_id), task_of(artifacts.get(r.artifact_id)))
    ]
    items.extend(tests[:MAX_FAILING_TESTS])
    deployments = await uow.deployments.find(project_id=conversation.project_id)
    deployments.sort(key=lambda d: d.created_at or d.started_at or 0, reverse=True)
    recent = [d for d in deployments if d.id != conversation.subject_id][:MAX_DEPLOYMENTS]
    items.extend(_deployment_item(d) for d in recent)
    return items


def merge(items: list[ContextItem], extra: Sequence[ContextItem]) -> list[ContextItem]:
    """`items` then those of `extra` not already there (search hits of the same entity are dropped)."""
    seen = {(i.entity_type, i.entity_id, i.title) for i in items}
    return items + [e for e in extra[:MAX_SEARCH_HITS] if (e.entity_type, e.entity_id, e.title) not in seen]


def render(items: Sequence[ContextItem]) -> str:
    """The numbered context as the model reads it."""
    lines = []
    for n, item in enumerate(items, 1):
        facts = ", ".join(f"{k}: {v}" for k, v in item.facts.items())
        lines.append(f"[{n}] {item.kind}: {item.title}" + (f" ({facts})" if facts else ""))
        if item.text:
            lines.append(f"    {item.text}")
    return "\n".join(lines)


SYSTEM = (
    "You are rdflow's project assistant. Answer the user's question about the project using only the context "
    "below, briefly and concretely. Cite every context item you use by its number in square brackets, like [2]. "
    "If the context does not answer the question, say so.\n\nContext:\n{context}"
)


def system_prompt(items: Sequence[ContextItem]) -> str:
    return SYSTEM.format(context=render(items) or "(nothing recorded yet)")


def cited(answer: str, items: Sequence[ContextItem]) -> list[dict[str, Any]]:
    """The items an answer cites by number, in the order first cited, each once."""
    numbers = dict.fromkeys(int(n) for n in CITATION.findall(answer))
    return [items[n - 1].citation() for n in numbers if 1 <= n <= len(items)]
