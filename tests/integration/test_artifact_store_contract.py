"""One contract for both artifact stores: the local directory and S3 (served in-process by moto)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from domain.artifact_keys import key_for
from domain.errors import InvalidInput, NotFound, ServiceUnavailable
from integrations.artifacts_local import LocalArtifactStore
from integrations.artifacts_s3 import S3ArtifactStore
from server.container import build_container
from server.settings import Settings

BUCKET = "rdflow-artifacts-test"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
MISSING_KEY = key_for(b"never stored")
MALFORMED_KEYS = [
    "../etc/passwd",
    "sha256/zz/..",
    "sha256/../" + "a" * 64,
    f"sha256/00/{'1' * 64}",
    f"sha256/{'A' * 2}/{'A' * 64}",
    f"md5/{MISSING_KEY[7:]}",
    "",
    MISSING_KEY + "\n",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **CREDENTIALS).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def s3_admin(moto_endpoint):
    """A plain boto3 client that reaches the bucket behind the store's back."""
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", **CREDENTIALS)


@dataclass
class Harness:
    store: LocalArtifactStore | S3ArtifactStore
    stored_count: Callable[[], int]
    overwrite: Callable[[str, bytes], None]


@pytest.fixture(params=["local", "s3"])
async def harness(request, tmp_path: Path):
    if request.param == "local":
        root = tmp_path / "artifacts"

        def overwrite(key: str, content: bytes) -> None:
            (root / key).write_bytes(content)

        yield Harness(LocalArtifactStore(root), lambda: sum(p.is_file() for p in root.rglob("*")), overwrite)
        return

    endpoint = request.getfixturevalue("moto_endpoint")
    admin = request.getfixturevalue("s3_admin")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    store = S3ArtifactStore(
        BUCKET, prefix, endpoint_url=endpoint, region="us-east-1", access_key_id="testing", secret_access_key="testing"
    )

    def count() -> int:
        return admin.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/")["KeyCount"]

    def overwrite(key: str, content: bytes) -> None:
        admin.put_object(Bucket=BUCKET, Key=f"{prefix}/{key}", Body=content)

    yield Harness(store, count, overwrite)
    await store.aclose()


async def test_put_returns_the_content_key_and_get_returns_the_bytes(harness):
    content = b"def add(a, b):\n    return a + b\n"
    key = await harness.store.put(content, content_type="text/x-python")
    assert key == key_for(content)
    assert await harness.store.get(key) == content


async def test_putting_the_same_content_twice_stores_one_object(harness):
    first = await harness.store.put(b"same bytes")
    second = await harness.store.put(b"same bytes")
    assert first == second
    assert harness.stored_count() == 1


async def test_different_content_gets_different_keys(harness):
    a = await harness.store.put(b"alpha")
    b = await harness.store.put(b"beta")
    assert a != b
    assert harness.stored_count() == 2
    assert (await harness.store.get(a), await harness.store.get(b)) == (b"alpha", b"beta")


async def test_exists_tells_stored_from_missing(harness):
    key = await harness.store.put(b"present")
    assert await harness.store.exists(key) is True
    assert await harness.store.exists(MISSING_KEY) is False


async def test_get_of_a_missing_key_is_not_found(harness):
    with pytest.raises(NotFound) as caught:
        await harness.store.get(MISSING_KEY)
    assert caught.value.details["id"] == MISSING_KEY


@pytest.mark.parametrize("key", MALFORMED_KEYS)
async def test_malformed_keys_are_refused(harness, key):
    with pytest.raises(InvalidInput):
        await harness.store.get(key)
    with pytest.raises(InvalidInput):
        await harness.store.exists(key)


async def test_corruption_behind_the_store_is_detected_on_get(harness):
    key = await harness.store.put(b"original content")
    harness.overwrite(key, b"tampered content")
    with pytest.raises(ServiceUnavailable, match="checksum mismatch"):
        await harness.store.get(key)


async def test_binary_content_with_every_byte_value_round_trips(harness):
    content = bytes(range(256)) * 4
    key = await harness.store.put(content, content_type="application/octet-stream")
    assert await harness.store.get(key) == content


async def test_empty_content_round_trips(harness):
    key = await harness.store.put(b"")
    assert await harness.store.exists(key)
    assert await harness.store.get(key) == b""


# S3 only: behaviour that has no local counterpart.


async def test_s3_stores_the_content_type_under_the_prefix(moto_endpoint, s3_admin):
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    store = S3ArtifactStore(
        BUCKET,
        prefix,
        endpoint_url=moto_endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
    )
    try:
        key = await store.put(b"{}", content_type="application/json")
    finally:
        await store.aclose()
    head = s3_admin.head_object(Bucket=BUCKET, Key=f"{prefix}/{key}")
    assert head["ContentType"] == "application/json"


async def test_s3_unreachable_endpoint_is_service_unavailable_naming_the_bucket():
    store = S3ArtifactStore(
        "unreachable-bucket",
        "p",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
        connect_timeout_s=1,
        read_timeout_s=1,
        max_attempts=1,
    )
    try:
        for attempt in (store.put(b"x"), store.get(MISSING_KEY), store.exists(MISSING_KEY)):
            with pytest.raises(ServiceUnavailable, match="unreachable-bucket"):
                await attempt
    finally:
        await store.aclose()


async def test_s3_missing_bucket_is_service_unavailable_not_a_missing_object(moto_endpoint):
    store = S3ArtifactStore(
        "no-such-bucket",
        "",
        endpoint_url=moto_endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
    )
    try:
        with pytest.raises(ServiceUnavailable, match="no-such-bucket"):
            await store.get(MISSING_KEY)
    finally:
        await store.aclose()


async def test_container_builds_the_s3_store_from_settings(moto_endpoint, s3_admin, tmp_path):
    prefix = f"container-{uuid.uuid4().hex[:12]}"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'rdflow.db'}",
        data_dir=tmp_path,
        redis_url=None,
        s3_bucket=BUCKET,
        s3_prefix=prefix,
        s3_endpoint_url=moto_endpoint,
        s3_region="us-east-1",
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
    )
    container = build_container(settings)
    try:
        assert isinstance(container.store, S3ArtifactStore)
        key = await container.store.put(b"through the container")
        assert await container.store.get(key) == b"through the container"
        assert s3_admin.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/")["KeyCount"] == 1
        assert container.store.aclose in container.closers
    finally:
        await container.aclose()
    assert not (tmp_path / "artifacts").exists()


async def test_s3_second_put_of_the_same_content_uploads_nothing(moto_endpoint, s3_admin):
    bucket = f"versioned-{uuid.uuid4().hex[:12]}"
    s3_admin.create_bucket(Bucket=bucket)
    s3_admin.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    store = S3ArtifactStore(
        bucket, "", endpoint_url=moto_endpoint, region="us-east-1", access_key_id="testing", secret_access_key="testing"
    )
    try:
        key = await store.put(b"once")
        assert await store.put(b"once") == key
    finally:
        await store.aclose()
    assert len(s3_admin.list_object_versions(Bucket=bucket).get("Versions", [])) == 1
