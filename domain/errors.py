"""Domain errors; each maps to one GraphQL error code and the brief's error id."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "INTERNAL_SERVER_ERROR"
    error_id = "ERR_500_001"

    def __init__(self, message: str, *, field: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}


class InvalidInput(DomainError):
    code = "BAD_USER_INPUT"
    error_id = "ERR_400_001"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    error_id = "ERR_401_001"


class Forbidden(DomainError):
    code = "FORBIDDEN"
    error_id = "ERR_403_001"

    def __init__(self, permission: str, message: str | None = None):
        super().__init__(message or f"missing permission {permission}", details={"permission": permission})
        self.permission = permission


class NotFound(DomainError):
    code = "NOT_FOUND"
    error_id = "ERR_404_001"

    def __init__(self, entity: str, entity_id: object):
        super().__init__(f"{entity} {entity_id} not found", details={"entity": entity, "id": str(entity_id)})


class Conflict(DomainError):
    code = "CONFLICT"
    error_id = "ERR_409_001"


class RateLimited(DomainError):
    code = "TOO_MANY_REQUESTS"
    error_id = "ERR_429_001"


class ServiceUnavailable(DomainError):
    code = "SERVICE_UNAVAILABLE"
    error_id = "ERR_503_001"


class RetryableError(ServiceUnavailable):
    """A dependency failed in a way that may pass later (outage, rate limit, open circuit): the job may retry."""


class AIOutputError(InvalidInput):
    """The model answered, but not in the required shape; the message names what is wrong. Not retryable."""
