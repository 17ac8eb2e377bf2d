"""Status machines: which status may follow which, per entity."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

from domain.enums import DeploymentStatus as D
from domain.enums import JobStatus as J
from domain.enums import PipelineRunStatus as PR
from domain.enums import ProjectStatus as P
from domain.enums import RequirementStatus as R
from domain.enums import ReviewStatus as V
from domain.enums import StageStatus as ST
from domain.enums import TaskStatus as T
from domain.errors import InvalidInput

E = TypeVar("E", bound=Enum)

PROJECT: Mapping[P, frozenset[P]] = {
    P.PLANNING: frozenset({P.ACTIVE, P.ON_HOLD, P.ARCHIVED}),
    P.ACTIVE: frozenset({P.ON_HOLD, P.COMPLETED, P.ARCHIVED}),
    P.ON_HOLD: frozenset({P.ACTIVE, P.ARCHIVED}),
    P.COMPLETED: frozenset({P.ARCHIVED, P.ACTIVE}),
    P.ARCHIVED: frozenset(),
}

REQUIREMENT: Mapping[R, frozenset[R]] = {
    R.DRAFT: frozenset({R.ANALYZING, R.REJECTED}),
    R.ANALYZING: frozenset({R.APPROVED, R.REJECTED, R.DRAFT}),
    R.APPROVED: frozenset({R.IN_PROGRESS, R.ANALYZING, R.REJECTED}),
    R.IN_PROGRESS: frozenset({R.DONE, R.APPROVED}),
    R.DONE: frozenset({R.IN_PROGRESS}),
    R.REJECTED: frozenset({R.DRAFT}),
}

TASK: Mapping[T, frozenset[T]] = {
    T.PENDING: frozenset({T.IN_PROGRESS, T.BLOCKED, T.CANCELLED}),
    T.IN_PROGRESS: frozenset({T.IN_REVIEW, T.DONE, T.BLOCKED, T.CANCELLED, T.PENDING}),
    T.IN_REVIEW: frozenset({T.DONE, T.IN_PROGRESS, T.CANCELLED}),
    T.BLOCKED: frozenset({T.PENDING, T.IN_PROGRESS, T.CANCELLED}),
    T.DONE: frozenset({T.IN_PROGRESS}),
    T.CANCELLED: frozenset({T.PENDING}),
}

REVIEW: Mapping[V, frozenset[V]] = {
    V.PENDING: frozenset({V.APPROVED, V.CHANGES_REQUESTED, V.REJECTED}),
    V.CHANGES_REQUESTED: frozenset({V.APPROVED, V.REJECTED, V.PENDING}),
    V.APPROVED: frozenset({V.CHANGES_REQUESTED, V.REJECTED}),
    V.REJECTED: frozenset({V.PENDING}),
}

DEPLOYMENT: Mapping[D, frozenset[D]] = {
    D.PENDING: frozenset({D.AWAITING_APPROVAL, D.IN_PROGRESS, D.FAILED}),
    D.AWAITING_APPROVAL: frozenset({D.PENDING, D.FAILED}),
    D.IN_PROGRESS: frozenset({D.SUCCEEDED, D.FAILED}),
    D.SUCCEEDED: frozenset({D.ROLLED_BACK}),
    D.FAILED: frozenset({D.ROLLED_BACK}),
    D.ROLLED_BACK: frozenset(),
}

JOB: Mapping[J, frozenset[J]] = {
    # QUEUED -> SUCCEEDED/FAILED: a worker the reconciler thought dead may still finish its attempt.
    J.QUEUED: frozenset({J.RUNNING, J.CANCELLED, J.FAILED, J.SUCCEEDED}),
    J.RUNNING: frozenset({J.SUCCEEDED, J.FAILED, J.CANCELLED, J.QUEUED}),
    J.SUCCEEDED: frozenset(),
    J.FAILED: frozenset(),
    J.CANCELLED: frozenset(),
}


def check_transition(machine: Mapping[E, frozenset[E]], entity: str, current: E, requested: E) -> None:
    """Raise InvalidInput naming both statuses when `requested` may not follow `current`."""
    if requested not in machine[current]:
        allowed = ", ".join(sorted(s.value for s in machine[current])) or "none"
        raise InvalidInput(
            f"{entity} cannot move from {current.value} to {requested.value} (allowed: {allowed})",
            field="status",
            details={"currentStatus": current.value, "requestedStatus": requested.value},
        )


PIPELINE_RUN: Mapping[PR, frozenset[PR]] = {
    PR.RUNNING: frozenset({PR.WAITING, PR.SUCCEEDED, PR.FAILED, PR.CANCELLED}),
    PR.WAITING: frozenset({PR.RUNNING, PR.FAILED, PR.CANCELLED}),
    PR.SUCCEEDED: frozenset(),
    PR.FAILED: frozenset(),
    PR.CANCELLED: frozenset(),
}

STAGE: Mapping[ST, frozenset[ST]] = {
    ST.PENDING: frozenset({ST.RUNNING, ST.SKIPPED, ST.CANCELLED}),
    ST.RUNNING: frozenset({ST.WAITING, ST.SUCCEEDED, ST.FAILED, ST.CANCELLED}),
    ST.WAITING: frozenset({ST.SUCCEEDED, ST.FAILED, ST.CANCELLED}),
    ST.SUCCEEDED: frozenset(),
    ST.FAILED: frozenset(),
    ST.SKIPPED: frozenset(),
    ST.CANCELLED: frozenset(),
}
