"""Tasks: typed work items of a requirement, with subtasks, dependencies and assignment."""

from __future__ import annotations

import builtins
import uuid
from collections import defaultdict
from decimal import Decimal

from domain import status as machines
from domain import validation as v
from domain.enums import Priority, TaskStatus, TaskType
from domain.errors import Conflict, InvalidInput
from domain.model import Task, TaskDependency
from domain.permissions import Permission, Viewer, require_assignment, require_task_execution
from domain.ports import UnitOfWork
from domain.repos import REQUIREMENTS, TASKS
from domain.services.access import EntityReads, load, load_in_project, require_member
from domain.services.base import Deps, Tx, snapshot
from domain.services.changes import apply_changes
from domain.validation import UNSET, Unset


async def _dependency_graph(uow: UnitOfWork, project_id: uuid.UUID) -> dict[uuid.UUID, set[uuid.UUID]]:
    task_ids = [t.id for t in await uow.tasks.find(project_id=project_id)]
    graph: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for dep in await uow.dependencies.find_in("task_id", task_ids):
        graph[dep.task_id].add(dep.depends_on_id)
    return graph


def _reaches(graph: dict[uuid.UUID, set[uuid.UUID]], start: uuid.UUID, target: uuid.UUID) -> bool:
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        if node == target:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, ()))
    return False


async def add_dependency(
    tx: Tx, task: Task, depends_on_id: uuid.UUID, graph: dict[uuid.UUID, set[uuid.UUID]] | None = None
) -> None:
    """Record that `task` waits for `depends_on_id`; refuses self-, cross-project and cyclic edges.
    The caller holds `lock_task_graph` of the task's project."""
    if depends_on_id == task.id:
        raise InvalidInput("a task cannot depend on itself", field="dependsOnId")
    other = await load(tx.uow.tasks, "Task", depends_on_id)
    if other.project_id != task.project_id:
        raise InvalidInput(f"task {depends_on_id} belongs to another project", field="dependsOnId")
    graph = graph if graph is not None else await _dependency_graph(tx.uow, task.project_id)
    if depends_on_id in graph.get(task.id, ()):
        raise Conflict(f"task {task.id} already depends on {depends_on_id}")
    if _reaches(graph, depends_on_id, task.id):
        raise InvalidInput(f"dependency {task.id} -> {depends_on_id} would create a cycle", field="dependsOnId")
    graph[task.id].add(depends_on_id)
    tx.uow.dependencies.add(TaskDependency(task_id=task.id, depends_on_id=depends_on_id))


async def lock_task_graph(tx: Tx, project_id: uuid.UUID) -> None:
    """Dependencies and parents of a project's tasks change one transaction at a time, so that two edges
    added at once cannot close a cycle that neither saw; the project row is the lock (taken before any task's)."""
    await load(tx.uow.projects, "Project", project_id, for_update=True)


async def _check_parent(tx: Tx, task: Task, parent_id: uuid.UUID | None) -> None:
    if parent_id is None:
        return
    parent = await load(tx.uow.tasks, "Task", parent_id)
    if parent.requirement_id != task.requirement_id:
        raise InvalidInput(f"parent task {parent_id} belongs to another requirement", field="parentId")
    node: Task | None = parent
    while node is not None:
        if node.id == task.id:
            raise InvalidInput(f"task {task.id} cannot be its own ancestor", field="parentId")
        node = await tx.uow.tasks.get(node.parent_id) if node.parent_id else None


class TaskService(EntityReads[Task]):
    def __init__(self, deps: Deps):
        super().__init__(deps, TASKS, Permission.REQUIREMENT_READ)

    async def create(
        self,
        viewer: Viewer,
        *,
        requirement_id: uuid.UUID,
        name: str,
        task_type: TaskType,
        description: str | None = None,
        priority: Priority = Priority.MEDIUM,
        assigned_to: uuid.UUID | None = None,
        estimated_hours: float | Decimal | None = None,
        parent_id: uuid.UUID | None = None,
        dependency_ids: builtins.list[uuid.UUID] | None = None,
    ) -> Task:
        async with Tx(self.deps, viewer, "task.create") as tx:
            req = await load_in_project(tx.uow, viewer, REQUIREMENTS, requirement_id, Permission.TASK_MANAGE)
            now = tx.now()
            task = Task(
                requirement_id=req.id,
                project_id=req.project_id,
                name=v.text(name, "name", max_length=200),
                task_type=task_type,
                description=v.text(description, "description", max_length=20_000, required=False),
                priority=priority,
                estimated_hours=v.hours(estimated_hours, "estimatedHours"),
                created_at=now,
                updated_at=now,
            )
            if dependency_ids:
                await lock_task_graph(tx, req.project_id)
            await _check_parent(tx, task, parent_id)
            task.parent_id = parent_id
            if assigned_to is not None:
                require_assignment(viewer, None, assigned_to)
                await self._check_assignee(tx, task, assigned_to)
                task.assigned_to = assigned_to
            tx.created(TASKS, task, "task.create", project_id=task.project_id, new_status=task.status)
            await tx.uow.flush()
            graph = await _dependency_graph(tx.uow, task.project_id)
            for dep_id in dict.fromkeys(dependency_ids or []):
                await add_dependency(tx, task, dep_id, graph)
        return task

    @staticmethod
    async def _check_assignee(tx: Tx, task: Task, user_id: uuid.UUID) -> None:
        user = await load(tx.uow.users, "User", user_id)
        if await tx.uow.members.find_one(project_id=task.project_id, user_id=user.id) is None:
            raise InvalidInput(f"user {user_id} is not a member of project {task.project_id}", field="assignedTo")

    async def update(
        self,
        viewer: Viewer,
        task_id: uuid.UUID,
        *,
        name: str | None = None,
        description: object = UNSET,
        priority: Priority | None = None,
        task_type: TaskType | None = None,
        estimated_hours: object = UNSET,
        actual_hours: object = UNSET,
        parent_id: uuid.UUID | Unset | None = UNSET,
    ) -> Task:
        async with Tx(self.deps, viewer, "task.update") as tx:
            task = await load_in_project(tx.uow, viewer, TASKS, task_id, Permission.TASK_MANAGE)
            if parent_id is not UNSET:
                await lock_task_graph(tx, task.project_id)
            task = await load(tx.uow.tasks, "Task", task_id, for_update=True)
            before = snapshot(task)
            apply_changes(
                task,
                {
                    "name": name,
                    "description": description,
                    "priority": priority,
                    "task_type": task_type,
                    "estimated_hours": estimated_hours,
                    "actual_hours": actual_hours,
                },
                {
                    "name": lambda x: v.text(x, "name", max_length=200),
                    "description": lambda x: v.text(x, "description", max_length=20_000, required=False),
                    "estimated_hours": lambda x: v.hours(x, "estimatedHours"),
                    "actual_hours": lambda x: v.hours(x, "actualHours"),
                },
                nullable={"description", "estimated_hours", "actual_hours"},
            )
            if parent_id is not UNSET:
                await _check_parent(tx, task, parent_id)
                task.parent_id = parent_id
            tx.updated(TASKS, task, before, "task.update", project_id=task.project_id)
        return task

    async def assign(self, viewer: Viewer, task_id: uuid.UUID, user_id: uuid.UUID | None) -> Task:
        async with Tx(self.deps, viewer, "task.assign") as tx:
            task = await load_in_project(tx.uow, viewer, TASKS, task_id, Permission.TASK_MANAGE, for_update=True)
            before = task.assigned_to
            require_assignment(viewer, before, user_id)
            if user_id is not None:
                await self._check_assignee(tx, task, user_id)
            task.assigned_to = user_id
            task.updated_at = tx.now()
            tx.audit(
                "task.assign",
                "Task",
                task.id,
                {"assignedTo": str(before) if before else None},
                {"assignedTo": str(user_id) if user_id else None},
            )
            tx.emit(
                "Task",
                task.id,
                "assigned",
                project_id=task.project_id,
                new_status=task.status,
                data={"assignedTo": user_id},
            )
        return task

    async def add_dependency(self, viewer: Viewer, task_id: uuid.UUID, depends_on_id: uuid.UUID) -> Task:
        async with Tx(self.deps, viewer, "task.dependency.add") as tx:
            task = await load_in_project(tx.uow, viewer, TASKS, task_id, Permission.TASK_MANAGE)
            await lock_task_graph(tx, task.project_id)
            await add_dependency(tx, task, depends_on_id)
            tx.audit("task.dependency.add", "Task", task.id, None, {"dependsOnId": str(depends_on_id)})
            tx.emit(
                "Task", task.id, "dependency_added", project_id=task.project_id, data={"dependsOnId": depends_on_id}
            )
        return task

    async def remove_dependency(self, viewer: Viewer, task_id: uuid.UUID, depends_on_id: uuid.UUID) -> Task:
        async with Tx(self.deps, viewer, "task.dependency.remove") as tx:
            task = await load_in_project(tx.uow, viewer, TASKS, task_id, Permission.TASK_MANAGE)
            await lock_task_graph(tx, task.project_id)
            dep = await tx.uow.dependencies.find_one(task_id=task.id, depends_on_id=depends_on_id)
            if dep is None:
                raise InvalidInput(f"task {task_id} does not depend on {depends_on_id}", field="dependsOnId")
            await tx.uow.dependencies.delete(dep)
            tx.audit("task.dependency.remove", "Task", task.id, {"dependsOnId": str(depends_on_id)}, None)
            tx.emit(
                "Task", task.id, "dependency_removed", project_id=task.project_id, data={"dependsOnId": depends_on_id}
            )
        return task

    async def change_status(self, viewer: Viewer, task_id: uuid.UUID, status: TaskStatus) -> Task:
        async with Tx(self.deps, viewer, "task.status") as tx:
            task = await load(tx.uow.tasks, "Task", task_id, for_update=True)
            require_task_execution(viewer, task.task_type, task.assigned_to)
            await require_member(tx.uow, viewer, task.project_id)
            await set_task_status(tx, task, status)
        return task

    async def delete(self, viewer: Viewer, task_id: uuid.UUID) -> uuid.UUID:
        async with Tx(self.deps, viewer, "task.delete") as tx:
            task = await load_in_project(tx.uow, viewer, TASKS, task_id, Permission.TASK_MANAGE, for_update=True)
            await tx.deleted(TASKS, task, "task.delete", project_id=task.project_id, old_status=task.status)
        return task_id


async def set_task_status(tx: Tx, task: Task, status: TaskStatus) -> None:
    """Move a task (locked by the caller) along its machine; starting it needs every dependency DONE."""
    # Checked up front too, so that an illegal move is refused by the machine before the dependencies are read.
    machines.check_transition(machines.TASK, "task", task.status, status)
    if status is TaskStatus.IN_PROGRESS:
        deps = await tx.uow.dependencies.find(task_id=task.id)
        blocking = [
            t for t in await tx.uow.tasks.get_many([d.depends_on_id for d in deps]) if t.status is not TaskStatus.DONE
        ]
        if blocking:
            names = ", ".join(f"{t.name} ({t.status.value})" for t in blocking)
            raise InvalidInput(
                f"task cannot start: dependencies not done: {names}",
                field="status",
                details={"blockingTaskIds": [str(t.id) for t in blocking]},
            )
    tx.moved(machines.TASK, TASKS, task, status, action="task.status", project_id=task.project_id)
    task.completed_at = task.updated_at if status is TaskStatus.DONE else None
