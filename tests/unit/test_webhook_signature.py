"""Webhook signatures: HMAC-SHA256 over `<timestamp>.<delivery>.<body>`, constant-time compared, in a window."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from domain.errors import InvalidInput, Unauthenticated
from domain.webhook_signature import SignedDelivery, new_secret, sign

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
TS = str(int(NOW.timestamp()))
SECRET = "whsec_test"
BODY = b'{"version": "1.0.0"}'


def delivery(**changes: object) -> SignedDelivery:
    fields: dict = {"signature": sign(SECRET, TS, "d-1", BODY), "timestamp": TS, "delivery_id": "d-1", "body": BODY}
    fields.update(changes)
    return SignedDelivery(**fields)


def test_the_signature_is_the_documented_hmac():
    expected = hmac.new(SECRET.encode(), f"{TS}.d-1.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, TS, "d-1", BODY) == f"sha256={expected}"


def test_a_good_delivery_verifies_to_its_id():
    assert delivery().verify(SECRET, NOW) == "d-1"
    assert delivery().verify(SECRET, NOW.replace(minute=5), window_s=300) == "d-1"


@pytest.mark.parametrize(
    "changes",
    [
        {"body": BODY + b" "},
        {"delivery_id": "d-2"},
        {"timestamp": str(int(TS) + 1)},
        {"signature": "sha256=" + "0" * 64},
        {"signature": sign("whsec_other", TS, "d-1", BODY)},
    ],
)
def test_any_change_breaks_the_signature(changes):
    with pytest.raises(Unauthenticated, match="does not match"):
        delivery(**changes).verify(SECRET, NOW)


def test_a_timestamp_outside_the_window_is_refused():
    with pytest.raises(Unauthenticated, match="more than 300 s") as refused:
        delivery().verify(SECRET, NOW.replace(minute=6))
    assert refused.value.field == "X-Rdflow-Timestamp"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"signature": None}, "X-Rdflow-Signature"),
        ({"timestamp": ""}, "X-Rdflow-Timestamp"),
        ({"timestamp": "yesterday"}, "X-Rdflow-Timestamp"),
        ({"timestamp": "\u00b2"}, "X-Rdflow-Timestamp"),  # "²".isdigit() holds, int("²") raises
        ({"timestamp": TS + "\n"}, "X-Rdflow-Timestamp"),
        ({"delivery_id": "d-1\n"}, "X-Rdflow-Delivery"),
        ({"delivery_id": None}, "X-Rdflow-Delivery"),
        ({"delivery_id": "a b"}, "X-Rdflow-Delivery"),
        ({"delivery_id": "x" * 101}, "X-Rdflow-Delivery"),
    ],
)
def test_missing_or_malformed_headers_name_the_header(changes, field):
    with pytest.raises(InvalidInput) as refused:
        delivery(**changes).verify(SECRET, NOW)
    assert refused.value.field == field


def test_secrets_are_long_and_fresh():
    a, b = new_secret(), new_secret()
    assert a != b and a.startswith("whsec_") and len(a) > 40
