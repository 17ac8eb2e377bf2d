"""The pipeline webhook route: `POST /hooks/pipelines/{projectId}` with a signed body starts a pipeline run.

Answers 202 with the run, or the error contract's JSON body naming what is wrong: 400 (a header or the body is
malformed), 401 (the signature or timestamp does not match, or no webhook is configured), 403 (the webhook's owner
may not run the pipeline), 409 (a replayed delivery), 503 with Retry-After (a dependency is down)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain.errors import DomainError, InvalidInput
from domain.webhook_signature import SignedDelivery
from resolvers.ids import decode_id, to_global_id
from server.outages import RETRY_AFTER_S, unavailable

log = logging.getLogger("rdflow.hooks")

STATUS = {
    "BAD_USER_INPUT": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "SERVICE_UNAVAILABLE": 503,
}


def _error(exc: DomainError) -> JSONResponse:
    extensions: dict[str, Any] = {"code": exc.code, "errorId": exc.error_id}
    if exc.field:
        extensions["field"] = exc.field
    status = STATUS.get(exc.code, 500)
    headers = {"retry-after": str(RETRY_AFTER_S)} if status == 503 else None
    return JSONResponse({"errors": [{"message": exc.message, "extensions": extensions}]}, status, headers=headers)


def _payload(body: bytes) -> tuple[str | None, list[Any] | None]:
    """The optional `version` and `artifactIds` (global ids) of a delivery's JSON body (empty: none)."""
    if not body.strip():
        return None, None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}", field="body") from exc
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    version, ids = data.get("version"), data.get("artifactIds")
    if version is not None and not isinstance(version, str):
        raise InvalidInput("version must be a string", field="version")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise InvalidInput("artifactIds must be a list of artifact ids", field="artifactIds")
    return version, None if ids is None else [decode_id(i, "CodeArtifact", "artifactIds") for i in ids]


async def pipeline_hook(request: Request) -> JSONResponse:
    webhooks = request.app.state.container.services.pipeline_webhooks
    try:
        project_id = decode_id(request.path_params["project_id"], "Project", "projectId")
        delivery = SignedDelivery(
            signature=request.headers.get("x-rdflow-signature"),
            timestamp=request.headers.get("x-rdflow-timestamp"),
            delivery_id=request.headers.get("x-rdflow-delivery"),
            body=await request.body(),
        )
        delivery_id = await webhooks.verify(project_id, delivery)
        version, artifact_ids = _payload(delivery.body)
        run = await webhooks.start(project_id, delivery_id, version, artifact_ids)
    except DomainError as exc:
        return _error(exc)
    except Exception as exc:
        outage = unavailable(exc)
        if outage is None:
            raise
        return _error(outage)
    log.info("webhook delivery %s started pipeline run %s", delivery_id, run.id)
    return JSONResponse(
        {"runId": to_global_id("PipelineRun", run.id), "status": run.status.value, "version": run.version},
        status_code=202,
    )


routes = [Route("/hooks/pipelines/{project_id}", pipeline_hook, methods=["POST"])]
