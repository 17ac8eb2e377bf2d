"""Code artifacts: versioned files of a task, stored by content hash, and their human review."""

from __future__ import annotations

import hashlib
import posixpath
import uuid
from collections.abc import Iterable

from domain import status as machines
from domain import validation as v
from domain.enums import ReviewStatus
from domain.errors import InvalidInput, ServiceUnavailable
from domain.model import CodeArtifact
from domain.permissions import Permission, Viewer, require_code_access, require_task_execution
from domain.ports import ArtifactStore
from domain.repos import ARTIFACTS
from domain.services.access import EntityReads, load, require_member
from domain.services.base import Deps, Tx

MAX_CONTENT_BYTES = 1_000_000
# The longest folder or file name a file system takes (NAME_MAX on Linux, counted in bytes): the test sandbox writes
# every file of a task under its path, so a longer segment would only fail when its tests run.
MAX_SEGMENT_BYTES = 255


def clean_path(file_path: str) -> str:
    """A relative POSIX path inside the project; refuses absolute paths and `..`."""
    raw = v.text(file_path, "filePath", max_length=v.FILE_PATH_LENGTH) or ""
    norm = posixpath.normpath(raw.replace("\\", "/"))
    if norm.startswith(("/", "..")) or norm == "." or "/../" in f"/{norm}/":
        raise InvalidInput(f"filePath {file_path!r} must be a relative path inside the project", field="filePath")
    if len(posixpath.basename(norm)) > v.FILE_NAME_LENGTH:
        raise InvalidInput(f"the file name in filePath is over {v.FILE_NAME_LENGTH} characters", field="filePath")
    for segment in norm.split("/"):
        if (size := len(segment.encode())) > MAX_SEGMENT_BYTES:
            raise InvalidInput(
                f"a folder or file name in filePath is {size} bytes in UTF-8; at most {MAX_SEGMENT_BYTES} allowed",
                field="filePath",
            )
    return norm


def path_clash(path: str, others: Iterable[str]) -> str | None:
    """Why `path` cannot join `others` (the file paths of a task) in one folder tree, if it cannot: one path would be
    both a file and a folder."""
    for other in sorted(set(others)):
        if other.startswith(path + "/"):
            return f"filePath {path!r} is a folder of the task's file {other!r}; a path cannot be both file and folder"
        if path.startswith(other + "/"):
            return f"filePath {path!r} is under the task's file {other!r}; a path cannot be both file and folder"
    return None


async def store_artifact(
    tx: Tx,
    store: ArtifactStore,
    *,
    task_id: uuid.UUID,
    project_id: uuid.UUID,
    file_path: str,
    content: str,
    language: str,
    generated_by: str,
) -> CodeArtifact:
    """Store `content` and add the next version of `file_path` for the task (whose row the caller has locked)."""
    path = clean_path(file_path)
    data = content.encode()
    if len(data) > MAX_CONTENT_BYTES:
        raise InvalidInput(f"content is {len(data)} bytes; at most {MAX_CONTENT_BYTES} allowed", field="content")
    # Every stored version's path counts: the tests materialise the task's files into one folder tree.
    stored = await tx.uow.artifacts.find(task_id=task_id)
    if (clash := path_clash(path, (a.file_path for a in stored))) is not None:
        raise InvalidInput(clash, field="filePath")
    previous = [a for a in stored if a.file_path == path]
    key = await store.put(data)
    now = tx.now()
    artifact = CodeArtifact(
        task_id=task_id,
        project_id=project_id,
        file_path=path,
        file_name=posixpath.basename(path),
        language=v.text(language, "language", max_length=30),
        storage_key=key,
        checksum=hashlib.sha256(data).hexdigest(),
        version=max((a.version for a in previous), default=0) + 1,
        size_bytes=len(data),
        lines_of_code=sum(1 for line in content.splitlines() if line.strip()),
        generated_by=generated_by,
        created_by=tx.viewer.user_id,
        created_at=now,
        updated_at=now,
    )
    tx.created(ARTIFACTS, artifact, "artifact.create", project_id=project_id, new_status=artifact.review_status)
    return artifact


class ArtifactService(EntityReads[CodeArtifact]):
    def __init__(self, deps: Deps):
        super().__init__(deps, ARTIFACTS, Permission.REQUIREMENT_READ)

    @property
    def store(self) -> ArtifactStore:
        if self.deps.store is None:
            raise ServiceUnavailable("no artifact store is configured")
        return self.deps.store

    async def content(self, viewer: Viewer, artifact: CodeArtifact) -> str:
        """The stored text, for a viewer who may read the artifact's project."""
        async with self.deps.uow() as uow:
            viewer.require(Permission.REQUIREMENT_READ)
            await require_member(uow, viewer, artifact.project_id)
        return (await self.store.get(artifact.storage_key)).decode()

    async def submit(
        self, viewer: Viewer, *, task_id: uuid.UUID, file_path: str, content: str, language: str
    ) -> CodeArtifact:
        async with Tx(self.deps, viewer, "artifact.create") as tx:
            require_code_access(viewer, None)
            # The task's row lock serialises the version numbers of its files.
            task = await load(tx.uow.tasks, "Task", task_id, for_update=True)
            await require_member(tx.uow, viewer, task.project_id)
            require_task_execution(viewer, task.task_type, task.assigned_to)
            return await store_artifact(
                tx,
                self.store,
                task_id=task.id,
                project_id=task.project_id,
                file_path=file_path,
                content=content,
                language=language,
                generated_by="human",
            )

    async def submit_review(
        self, viewer: Viewer, artifact_id: uuid.UUID, decision: ReviewStatus, comments: str | None
    ) -> CodeArtifact:
        async with Tx(self.deps, viewer, "artifact.review") as tx:
            artifact = await load(tx.uow.artifacts, "CodeArtifact", artifact_id, for_update=True)
            require_code_access(viewer, artifact.created_by)
            await require_member(tx.uow, viewer, artifact.project_id)
            if decision is ReviewStatus.PENDING:
                raise InvalidInput("decision must be APPROVED, CHANGES_REQUESTED or REJECTED", field="decision")
            review_comments = v.text(comments, "comments", max_length=10_000, required=False)
            tx.moved(
                machines.REVIEW,
                ARTIFACTS,
                artifact,
                decision,
                action="artifact.review",
                project_id=artifact.project_id,
                noun="artifact review",
                field="review_status",
                audit_key="reviewStatus",
                audit_after={"comments": review_comments},
                event="reviewed",
            )
            artifact.review_comments = review_comments
            artifact.reviewed_by = viewer.user_id
        return artifact

    async def delete(self, viewer: Viewer, artifact_id: uuid.UUID) -> uuid.UUID:
        async with Tx(self.deps, viewer, "artifact.delete") as tx:
            artifact = await load(tx.uow.artifacts, "CodeArtifact", artifact_id, for_update=True)
            require_code_access(viewer, artifact.created_by)
            await require_member(tx.uow, viewer, artifact.project_id)
            await tx.deleted(ARTIFACTS, artifact, "artifact.delete", project_id=artifact.project_id)
        return artifact_id
