"""`rdflow demo`: a realistic sample project in an empty database, made through the domain services."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import date

from domain.enums import (
    Environment,
    Priority,
    ProjectStatus,
    RequirementStatus,
    ReviewStatus,
    Role,
    Strategy,
    TaskStatus,
    TaskType,
    TestRunStatus,
    TestType,
)
from domain.model import Requirement, Task, User
from domain.permissions import Viewer
from domain.services.bundle import Services
from server.container import Container, build_container
from server.settings import Settings

# (username, role, department): one user per role.
PEOPLE = (
    ("admin", Role.SUPER_ADMIN, None),
    ("lead", Role.PROJECT_ADMIN, "Engineering"),
    ("developer", Role.DEVELOPER, "Engineering"),
    ("tester", Role.TESTER, "Quality"),
    ("guest", Role.GUEST, "Finance"),
)


class NotEmpty(Exception):
    """The database already has users or projects: the demo only fills an empty one."""


class HeldJobs:
    """A job queue that keeps what is enqueued until the demo runs it, so jobs run when the story says."""

    def __init__(self) -> None:
        self.waiting: list[uuid.UUID] = []

    async def enqueue(self, job_id: uuid.UUID, kind: str) -> None:
        if job_id not in self.waiting:
            self.waiting.append(job_id)

    async def cancel(self, job_id: uuid.UUID) -> None:
        if job_id in self.waiting:
            self.waiting.remove(job_id)


@dataclass
class Demo:
    container: Container
    held: HeldJobs
    viewers: dict[str, Viewer]

    @property
    def services(self) -> Services:
        return self.container.services

    async def run_jobs(self) -> None:
        """Run every job requested so far with the same executor a worker uses."""
        while self.held.waiting:
            job_id = self.held.waiting.pop(0)
            outcome = await self.container.executor.run_with_deadline(job_id, self.container.settings.job_timeout_s)
            if outcome.retry_in is not None:
                await asyncio.sleep(outcome.retry_in)
                self.held.waiting.append(job_id)

    async def tasks_of(self, viewer: Viewer, job_id: uuid.UUID) -> list[Task]:
        job = await self.services.jobs.get(viewer, job_id)
        return [await self.services.tasks.get(viewer, uuid.UUID(t)) for t in (job.result or {}).get("taskIds", [])]


async def _people(container: Container) -> tuple[dict[str, User], dict[str, str]]:
    users = container.services.users
    passwords = {name: secrets.token_urlsafe(12) for name, _, _ in PEOPLE}
    admin = await users.bootstrap_admin(username="admin", email="admin@example.com", password=passwords["admin"])
    as_admin = Viewer(user_id=admin.id, role=admin.role, username=admin.username, request_id="demo")
    made = {"admin": admin}
    for name, role, department in PEOPLE[1:]:
        made[name] = await users.create_user(
            as_admin,
            username=name,
            email=f"{name}@example.com",
            password=passwords[name],
            role=role,
            department=department,
        )
    return made, passwords


async def _story(demo: Demo, people: dict[str, User]) -> None:
    s = demo.services
    lead, dev, tester = demo.viewers["lead"], demo.viewers["developer"], demo.viewers["tester"]

    project = await s.projects.create(
        lead,
        name="Billing Portal",
        description="Customer-facing invoices, payments and exports for the finance team.",
        tech_stack=["python", "fastapi", "postgresql", "react"],
        start_date=date.today(),
    )
    await s.projects.change_status(lead, project.id, ProjectStatus.ACTIVE)
    for name in ("developer", "tester", "guest"):
        await s.projects.add_member(lead, project.id, people[name].id)

    async def requirement(
        title: str, content: str, priority: Priority, tags: list[str], by: Viewer = lead
    ) -> Requirement:
        return await s.requirements.create(
            by, project_id=project.id, title=title, content=content, priority=priority, tags=tags
        )

    # The full pipeline: PRD drafted by the offline AI and approved, tasks from decomposition, code, review.
    export = await requirement(
        "Export invoices as PDF",
        "Customers download any invoice as a PDF with the company letterhead, line items, taxes and totals. "
        "Finance exports a month of invoices as one ZIP. Exports must finish within 5 seconds for 500 invoices.",
        Priority.HIGH,
        ["invoices", "export"],
    )
    await s.pipeline.generate_prd(lead, export.id)
    await demo.run_jobs()
    export = await s.requirements.get(lead, export.id)
    assert export.prd_document_id is not None, "the PRD job wrote a PRD"
    await s.pipeline.approve_prd(lead, export.prd_document_id)
    plan = await s.pipeline.decompose(
        lead, export.id, Strategy.ROLE_BASED, [TaskType.BACKEND, TaskType.FRONTEND, TaskType.TESTING]
    )
    await demo.run_jobs()
    tasks = await demo.tasks_of(lead, plan.id)
    # The offline plan: an API design task first, the other tasks depending on it.
    backend, implement = [t for t in tasks if t.task_type is TaskType.BACKEND][:2]
    frontend = next(t for t in tasks if t.task_type is TaskType.FRONTEND)
    testing = next(t for t in tasks if t.task_type is TaskType.TESTING)

    await s.tasks.assign(lead, backend.id, dev.user_id)
    await s.tasks.assign(lead, implement.id, dev.user_id)
    await s.tasks.assign(lead, frontend.id, dev.user_id)
    await s.tasks.assign(lead, testing.id, tester.user_id)
    code = await s.pipeline.generate_code(dev, backend.id, language="python", framework="fastapi")
    await demo.run_jobs()
    artifact_ids = [uuid.UUID(a) for a in ((await s.jobs.get(dev, code.id)).result or {})["artifactIds"]]
    await s.pipeline.review_code(dev, artifact_ids[0])
    await demo.run_jobs()
    for artifact_id in artifact_ids:
        await s.artifacts.submit_review(lead, artifact_id, ReviewStatus.APPROVED, "Reviewed with the AI findings.")
    await s.tasks.change_status(dev, backend.id, TaskStatus.DONE)
    await s.tasks.change_status(dev, implement.id, TaskStatus.IN_PROGRESS)
    await s.tasks.change_status(dev, frontend.id, TaskStatus.IN_PROGRESS)
    await s.tasks.change_status(tester, testing.id, TaskStatus.BLOCKED)
    if (await s.requirements.get(lead, export.id)).status is RequirementStatus.APPROVED:
        await s.requirements.change_status(lead, export.id, RequirementStatus.IN_PROGRESS)

    # Test results, one of them failing.
    await s.test_results.record(
        dev,
        artifact_id=artifact_ids[0],
        test_type=TestType.UNIT,
        status=TestRunStatus.PASSED,
        total=14,
        passed=14,
        coverage_percent=91.5,
        execution_time_ms=1840,
    )
    await s.test_results.record(
        tester,
        artifact_id=artifact_ids[0],
        test_type=TestType.INTEGRATION,
        status=TestRunStatus.FAILED,
        total=9,
        passed=7,
        failed=2,
        coverage_percent=78.0,
        execution_time_ms=6320,
        error_message="test_monthly_zip_export: timed out after 5 s with 500 invoices\n"
        "test_pdf_totals_round_half_even: expected 118.00, got 117.99",
    )
    await s.test_results.record(
        tester,
        artifact_id=artifact_ids[0],
        test_type=TestType.E2E,
        status=TestRunStatus.PASSED,
        framework="playwright",
        total=3,
        passed=3,
        execution_time_ms=12_400,
    )

    # Deployments, rolled out on the configured cluster (the simulated one by default): DEV succeeds, STAGING
    # fails (a revision the simulated cluster crash-loops), PROD waits for an approver.
    await s.deployments.create(
        dev, project_id=project.id, environment=Environment.DEV, version="1.0.0", artifact_ids=artifact_ids
    )
    await demo.run_jobs()
    await s.deployments.create(
        lead, project_id=project.id, environment=Environment.STAGING, version="1.0.1-crash", artifact_ids=artifact_ids
    )
    await demo.run_jobs()
    await s.deployments.create(
        lead, project_id=project.id, environment=Environment.PROD, version="1.0.0", artifact_ids=artifact_ids
    )

    # Requirements in other states: a PRD waiting for review, a draft, a rejected one.
    reset = await requirement(
        "Self-service password reset",
        "Customers reset a forgotten password by e-mail link, valid for 30 minutes and usable once.",
        Priority.MEDIUM,
        ["accounts"],
        by=dev,
    )
    await s.pipeline.generate_prd(dev, reset.id)
    await demo.run_jobs()
    await requirement(
        "Dunning e-mails for overdue invoices",
        "Remind customers 3, 10 and 30 days after an invoice's due date; stop when it is paid.",
        Priority.MEDIUM,
        ["invoices", "email"],
    )
    fax = await requirement("Fax delivery of invoices", "Send invoices by fax on request.", Priority.LOW, ["invoices"])
    await s.requirements.change_status(lead, fax.id, RequirementStatus.REJECTED)

    # Jobs that did not succeed, for the real reasons they happen: what they were for was deleted before they ran,
    # or their requester changed their mind.
    spike = await s.tasks.create(
        lead,
        requirement_id=export.id,
        name="Spike: compare PDF libraries",
        task_type=TaskType.BACKEND,
        assigned_to=dev.user_id,
        estimated_hours=4,
    )
    await s.pipeline.generate_code(dev, spike.id, language="python", framework=None)
    await s.tasks.delete(lead, spike.id)
    erp = await requirement(
        "Import invoices from the legacy ERP", "Nightly import of the ERP's CSV export.", Priority.LOW, ["import"]
    )
    await s.pipeline.generate_prd(lead, erp.id)
    await s.requirements.delete(lead, erp.id)
    await demo.run_jobs()
    replan = await s.pipeline.decompose(dev, reset.id, Strategy.ROLE_BASED, None)
    await s.jobs.cancel(dev, replan.id)


async def _empty(container: Container) -> bool:
    async with container.services.deps.uow() as uow:
        return await uow.users.find_one() is None and await uow.projects.find_one() is None


async def is_empty(settings: Settings) -> bool:
    """No users and no projects yet."""
    container = build_container(settings)
    try:
        return await _empty(container)
    finally:
        await container.aclose()


async def fill(settings: Settings) -> dict[str, str]:
    """Fill an empty database with the sample project; returns each user's password. Raises NotEmpty."""
    held = HeldJobs()
    # The offline AI, whatever the environment says: the demo must not spend a provider's tokens.
    container = build_container(settings.model_copy(update={"anthropic_api_key": None}), queue=held)
    try:
        if not await _empty(container):
            raise NotEmpty("the database already has data: `rdflow demo` only fills an empty database")
        people, passwords = await _people(container)
        viewers = {
            name: Viewer(user_id=user.id, role=user.role, username=user.username, request_id="demo")
            for name, user in people.items()
        }
        await _story(Demo(container, held, viewers), people)
        return passwords
    finally:
        await container.aclose()
