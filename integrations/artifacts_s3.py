"""The production artifact store: content-addressed objects in an S3-compatible bucket via aioboto3."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from domain.artifact_keys import check_key, key_for
from domain.errors import DomainError, NotFound, RetryableError, ServiceUnavailable

MISSING = {"404", "NoSuchKey", "NotFound"}
# Answers that may pass on a later try (besides any 5xx); others (403, NoSuchBucket, ...) need an operator.
BUSY = {"ServiceUnavailable", "SlowDown", "RequestTimeout", "Throttling", "ThrottlingException", "InternalError"}


def _missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error.get("Code") in MISSING or (status == 404 and error.get("Code") != "NoSuchBucket")


def _transient(exc: BotoCoreError | ClientError) -> bool:
    """S3 down, unreachable, slow or throttling (a job retries these) rather than refusing for good."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return exc.response.get("Error", {}).get("Code") in BUSY or status >= 500
    return isinstance(exc, BotoConnectionError | HTTPClientError)  # refused, closed, connect and read timeouts


class S3ArtifactStore:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        connect_timeout_s: float = 5,
        read_timeout_s: float = 30,
        max_attempts: int = 3,
    ):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._endpoint_url = endpoint_url
        self._session = aioboto3.Session(
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key, region_name=region
        )
        self._config = Config(
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
        )
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None
        self._lock = asyncio.Lock()

    def _object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def _s3(self) -> Any:
        async with self._lock:
            if self._client is None:
                stack = contextlib.AsyncExitStack()
                self._client = await stack.enter_async_context(
                    self._session.client("s3", endpoint_url=self._endpoint_url, config=self._config)
                )
                self._stack = stack
            return self._client

    def _unavailable(self, action: str, key: str, exc: BotoCoreError | ClientError) -> DomainError:
        error = RetryableError if _transient(exc) else ServiceUnavailable
        return error(f"artifact store S3 bucket {self.bucket!r} failed to {action} {key}: {exc}")

    async def _head(self, object_key: str) -> bool:
        s3 = await self._s3()
        try:
            await s3.head_object(Bucket=self.bucket, Key=object_key)
        except ClientError as exc:
            if _missing(exc):
                return False
            raise self._unavailable("check", object_key, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("check", object_key, exc) from exc
        return True

    async def put(self, content: bytes, *, content_type: str = "text/plain") -> str:
        key = key_for(content)
        object_key = self._object_key(key)
        if await self._head(object_key):
            return key
        s3 = await self._s3()
        checksum = base64.b64encode(hashlib.sha256(content).digest()).decode()
        try:
            await s3.put_object(
                Bucket=self.bucket, Key=object_key, Body=content, ContentType=content_type, ChecksumSHA256=checksum
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable("store", object_key, exc) from exc
        return key

    async def get(self, key: str) -> bytes:
        object_key = self._object_key(key)
        s3 = await self._s3()
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=object_key)
            async with response["Body"] as body:
                content = await body.read()
        except ClientError as exc:
            if _missing(exc):
                raise NotFound("Artifact content", key) from exc
            raise self._unavailable("read", object_key, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("read", object_key, exc) from exc
        if hashlib.sha256(content).hexdigest() != check_key(key):
            raise ServiceUnavailable(
                f"stored artifact {key} in S3 bucket {self.bucket!r} is corrupt (checksum mismatch)"
            )
        return content

    async def exists(self, key: str) -> bool:
        return await self._head(self._object_key(key))

    async def aclose(self) -> None:
        async with self._lock:
            stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()
