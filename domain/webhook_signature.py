"""Webhook request signatures: HMAC-SHA256 over the timestamp, the delivery id and the raw body, in a replay window."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from domain.errors import InvalidInput, Unauthenticated

SIGNATURE_PREFIX = "sha256="
DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}\Z")
TIMESTAMP = re.compile(r"^[0-9]{1,12}\Z")  # ASCII digits: str.isdigit() also takes "²", which int() refuses
DEFAULT_WINDOW_S = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signed_content(timestamp: str, delivery_id: str, body: bytes) -> bytes:
    """What is signed: `<timestamp>.<delivery id>.<raw body>`, so neither header can be changed on a replay."""
    return f"{timestamp}.{delivery_id}.".encode() + body


def sign(secret: str, timestamp: str, delivery_id: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), signed_content(timestamp, delivery_id, body), hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


@dataclass(frozen=True)
class SignedDelivery:
    """The headers of one webhook request, as received (None when absent)."""

    signature: str | None
    timestamp: str | None
    delivery_id: str | None
    body: bytes

    def checked_headers(self) -> tuple[str, int, str]:
        """(signature, timestamp, delivery id), or InvalidInput naming the header that is missing or malformed."""
        if not self.signature:
            raise InvalidInput("the X-Rdflow-Signature header is missing", field="X-Rdflow-Signature")
        if not self.timestamp:
            raise InvalidInput("the X-Rdflow-Timestamp header is missing", field="X-Rdflow-Timestamp")
        if not self.delivery_id:
            raise InvalidInput("the X-Rdflow-Delivery header is missing", field="X-Rdflow-Delivery")
        if not TIMESTAMP.match(self.timestamp):
            raise InvalidInput("X-Rdflow-Timestamp must be Unix seconds", field="X-Rdflow-Timestamp")
        if not DELIVERY_ID.match(self.delivery_id):
            raise InvalidInput("X-Rdflow-Delivery must be 1-100 letters, digits or . _ : -", field="X-Rdflow-Delivery")
        return self.signature, int(self.timestamp), self.delivery_id

    def verify(self, secret: str, now: datetime, window_s: int = DEFAULT_WINDOW_S) -> str:
        """The delivery id when the signature is the secret's and the timestamp is within `window_s` of now;
        else InvalidInput (a header missing or malformed) or Unauthenticated (naming what does not match)."""
        signature, timestamp, delivery_id = self.checked_headers()
        expected = sign(secret, str(self.timestamp), delivery_id, self.body)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise Unauthenticated("X-Rdflow-Signature does not match the body signed with this project's secret")
        if abs(now.timestamp() - timestamp) > window_s:
            raise Unauthenticated(
                f"X-Rdflow-Timestamp is more than {window_s} s away from the server's time", field="X-Rdflow-Timestamp"
            )
        return delivery_id
