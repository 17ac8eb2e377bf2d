"""The pipeline webhook: a per-project secret (shown once, stored encrypted), signed deliveries that start runs,
each delivery id accepted once."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from domain.enums import PipelineTrigger
from domain.errors import Conflict, Unauthenticated
from domain.model import PipelineRun, WebhookDelivery
from domain.permissions import Viewer
from domain.ports import SecretBox
from domain.services.access import load
from domain.services.base import Deps, Tx
from domain.services.pipeline_runs import PipelineRunService, require_may_run, specs_of
from domain.validation import REQUEST_ID_LENGTH
from domain.webhook_signature import DEFAULT_WINDOW_S, SignedDelivery, new_secret

NOT_CONFIGURED = "no pipeline webhook is configured for this project"
# Beyond the replay window on both sides, for replicas whose clocks disagree by up to this much.
CLOCK_MARGIN_S = 300


def delivery_request_id(delivery_id: str) -> str:
    """The request id a delivery's audit rows carry: `webhook-<delivery id>`, or for an id too long for the audit
    log a digest of it (the run keeps the whole id as its trigger_ref)."""
    request_id = f"webhook-{delivery_id}"
    if len(request_id) <= REQUEST_ID_LENGTH:  # a delivery id may be up to 100 characters
        return request_id
    return f"webhook-sha256-{hashlib.sha256(delivery_id.encode()).hexdigest()[:32]}"


class PipelineWebhooks:
    def __init__(self, deps: Deps, runs: PipelineRunService, secrets: SecretBox, window_s: int = DEFAULT_WINDOW_S):
        self.deps = deps
        self.runs = runs
        self.secrets = secrets
        self.window_s = window_s
        # A delivery's timestamp is within `window_s` of its receipt, and a replay is refused once that timestamp is
        # more than `window_s` in the past: from 2 x `window_s` after the receipt, the timestamp alone refuses it.
        self.remembered_for = timedelta(seconds=2 * window_s + CLOCK_MARGIN_S)

    async def rotate_secret(self, viewer: Viewer, project_id: uuid.UUID) -> str:
        """A new webhook secret for the project (project admins), returned this once; the old one stops working.
        Runs the webhook starts act as `viewer`."""
        secret = new_secret()
        await self.runs.rotate_webhook_secret(viewer, project_id, secret, self.secrets.encrypt(secret))
        return secret

    async def verify(self, project_id: uuid.UUID, delivery: SignedDelivery) -> str:
        """The delivery id of a correctly signed, timely delivery; InvalidInput for a missing or malformed header,
        Unauthenticated naming what does not match (an unknown project reads as one without a webhook)."""
        delivery.checked_headers()
        async with self.deps.uow() as uow:
            definition = await uow.pipelines.find_one(project_id=project_id)
        if definition is None or definition.webhook_secret_encrypted is None:
            raise Unauthenticated(NOT_CONFIGURED)
        secret = self.secrets.decrypt(definition.webhook_secret_encrypted)
        return delivery.verify(secret, self.deps.clock.now(), self.window_s)

    async def start(
        self, project_id: uuid.UUID, delivery_id: str, version: str | None, artifact_ids: list[uuid.UUID] | None
    ) -> PipelineRun:
        """Start a run for a verified delivery, acting as the webhook's owner; a delivery id seen before is a
        Conflict (a replay), remembered in the same transaction as the run it started."""
        async with self.deps.uow() as uow:
            definition = await uow.pipelines.find_one(project_id=project_id)
            owner = await uow.users.get(definition.webhook_owner_id) if definition else None
        if owner is None:
            raise Unauthenticated(f"{NOT_CONFIGURED} (its owner is gone: rotate the secret)")
        actor = Viewer(
            user_id=owner.id, role=owner.role, username=owner.username, request_id=delivery_request_id(delivery_id)
        )
        async with Tx(self.deps, actor, "pipeline.webhook") as tx:
            project = await load(tx.uow.projects, "Project", project_id, for_update=True)
            definition = await tx.uow.pipelines.find_one(project_id=project.id)
            if definition is None or definition.webhook_owner_id != owner.id:
                raise Conflict("the webhook secret was rotated meanwhile; deliver again", field="X-Rdflow-Delivery")
            # One read of the project's remembered deliveries (kept few by the purge below) answers both.
            remembered = await tx.uow.webhook_deliveries.find(project_id=project.id)
            if any(seen.delivery_id == delivery_id for seen in remembered):
                raise Conflict(f"delivery {delivery_id} was already received: a replay", field="X-Rdflow-Delivery")
            # The project's deliveries no replay can match any more are forgotten (the table stays bounded).
            forget_before = tx.now() - self.remembered_for
            for old in remembered:
                if old.received_at < forget_before:
                    await tx.uow.webhook_deliveries.delete(old)
            require_may_run(actor, specs_of(definition))
            run = await self.runs.open_run(
                tx,
                project,
                definition,
                trigger=PipelineTrigger.WEBHOOK,
                actor_id=owner.id,
                version=version,
                artifact_ids=artifact_ids,
                trigger_ref=delivery_id,
            )
            tx.uow.webhook_deliveries.add(
                WebhookDelivery(project_id=project.id, delivery_id=delivery_id, received_at=tx.now(), run_id=run.id)
            )
        return run
