"""Forged, tampered, expired and misused tokens are refused over real HTTP and WebSocket; a genuine one works.

Each attack is crafted with pyjwt from a genuine access token's claims and the codec's own secret, issuer and
audience, so the one thing wrong with it is the thing under test. Logout revocation and an access token sent
to refreshToken are covered in test_auth.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.warnings import InsecureKeyLengthWarning

from auth.tokens import ACCESS, REFRESH, TokenConfig
from domain.enums import Role
from domain.events import DomainEvent
from domain.model import User
from resolvers.ids import to_global_id
from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings
from tests.fakes.clock import SettableClock
from tests.live import LegacyWs, LiveServer, TransportWs

ME = "{ me { id username role } }"


@dataclass
class Kit:
    api: Api
    user: User
    genuine: str

    @property
    def config(self) -> TokenConfig:
        return self.api.container.tokens.config

    def claims(self, **changes: Any) -> dict[str, Any]:
        """The genuine token's claims with `changes` applied; a change to None drops the claim."""
        claims = jwt.decode(self.genuine, options={"verify_signature": False})
        for name, value in changes.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def sign(self, claims: dict[str, Any], key: Any = None, algorithm: str = "HS256") -> str:
        return jwt.encode(claims, self.config.secret if key is None else key, algorithm=algorithm)

    def now(self):
        return self.api.container.services.deps.clock.now()


async def make_kit(api: Api) -> Kit:
    user = await api.user("victim", Role.DEVELOPER)
    return Kit(api=api, user=user, genuine=api.tokens["victim"])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64json(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def bearer(token: str) -> str:
    return f"Bearer {token}"


# --- the attacks: each returns the Authorization header value to send ----------------------------------------


def expired(k: Kit) -> str:
    past = k.now() - k.config.access_ttl - timedelta(hours=1)
    return bearer(k.api.container.tokens.issue(k.user, ACCESS, past)[0])


def tampered_role(k: Kit) -> str:
    header, _, signature = k.genuine.split(".")
    payload = k.claims(role=Role.SUPER_ADMIN.value, permissions=["user:manage", "system:config"])
    return bearer(f"{header}.{b64json(payload)}.{signature}")


async def tampered_subject(k: Kit) -> str:
    header, _, signature = k.genuine.split(".")
    admin = k.api.users["admin"]
    payload = k.claims(sub=str(admin.id), username=admin.username, role=Role.SUPER_ADMIN.value)
    return bearer(f"{header}.{b64json(payload)}.{signature}")


def tampered_signature(k: Kit) -> str:
    header, payload, signature = k.genuine.split(".")
    # Change the first character: the last one may only carry padding bits and decode to the same bytes.
    forged = ("B" if signature[0] == "A" else "A") + signature[1:]
    assert unb64(forged) != unb64(signature)
    return bearer(f"{header}.{payload}.{forged}")


def stripped_signature(k: Kit) -> str:
    header, payload, _ = k.genuine.split(".")
    return bearer(f"{header}.{payload}.")


def other_secret(k: Kit) -> str:
    return bearer(k.sign(k.claims(), key="another-secret-that-is-long-enough-for-hs256!!"))


def wrong_audience(k: Kit) -> str:
    return bearer(k.sign(k.claims(aud="some-other-api")))


def wrong_issuer(k: Kit) -> str:
    return bearer(k.sign(k.claims(iss="https://evil.example")))


def missing(claim: str) -> Callable[[Kit], str]:
    def attack(k: Kit) -> str:
        claims = k.claims(**{claim: None})
        assert claim not in claims
        return bearer(k.sign(claims))

    return attack


def not_yet_valid(k: Kit) -> str:
    return bearer(k.sign(k.claims(nbf=int((k.now() + timedelta(hours=1)).timestamp()))))


def alg_none(spelling: str, keep_signature: bool = False) -> Callable[[Kit], str]:
    def attack(k: Kit) -> str:
        signature = k.genuine.split(".")[2] if keep_signature else ""
        return bearer(f"{b64json({'alg': spelling, 'typ': 'JWT'})}.{b64json(k.claims())}.{signature}")

    return attack


def hs512_same_secret(k: Kit) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return bearer(k.sign(k.claims(), algorithm="HS512"))


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rs256(k: Kit) -> str:
    token = k.sign(k.claims(), key=rsa_key(), algorithm="RS256")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    return bearer(token)


def hs256_with_public_pem(k: Kit) -> str:
    # pyjwt refuses a PEM as an HMAC key, so sign by hand the way an attacker would.
    pem = (
        rsa_key().public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'JWT'})}.{b64json(k.claims())}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return bearer(f"{signing_input}.{b64(signature)}")


def refresh_as_access(k: Kit) -> str:
    return bearer(k.api.container.tokens.issue(k.user, REFRESH, k.now(), family=uuid.uuid4().hex)[0])


async def deactivated_user(k: Kit) -> str:
    data = await k.api.gql(
        "mutation($id: ID!) { deactivateUser(userId: $id) { status } }", {"id": to_global_id("User", k.user.id)}
    )
    assert data["deactivateUser"]["status"] == "INACTIVE"
    return bearer(k.genuine)


async def deleted_user(k: Kit) -> str:
    async with k.api.container.services.deps.uow() as uow:
        await uow.users.delete(await uow.users.get(k.user.id))
        await uow.commit()
    async with k.api.container.services.deps.uow() as uow:
        assert await uow.users.get(k.user.id) is None
    # Announced as every change of a user is (Tx publishes after commit): the servers' user caches forget the user.
    deps = k.api.container.services.deps
    await deps.bus.publish(DomainEvent("User", str(k.user.id), "deleted", deps.clock.now()))
    return bearer(k.genuine)


def unknown_subject(k: Kit) -> str:
    return bearer(k.sign(k.claims(sub=str(uuid.uuid4()))))


def malformed_subject(k: Kit) -> str:
    return bearer(k.sign(k.claims(sub="admin")))


def literal(header: str) -> Callable[[Kit], str]:
    return lambda k: header


BAD_SIGNATURE = "Signature verification failed"
ALG_REFUSED = "alg value is not allowed"
GONE = "the token's user does not exist or is deactivated"
BAD_HEADER = "Authorization header must be 'Bearer <access token>'"

# id -> (attack, a substring of the refusal's message)
ATTACKS: dict[str, tuple[Callable[[Kit], str | Awaitable[str]], str]] = {
    "expired": (expired, "token expired"),
    "tampered-payload-role": (tampered_role, BAD_SIGNATURE),
    "tampered-payload-sub": (tampered_subject, BAD_SIGNATURE),
    "tampered-signature": (tampered_signature, BAD_SIGNATURE),
    "stripped-signature": (stripped_signature, BAD_SIGNATURE),
    "other-secret": (other_secret, BAD_SIGNATURE),
    "wrong-aud": (wrong_audience, "Audience doesn't match"),
    "wrong-iss": (wrong_issuer, "Invalid issuer"),
    **{
        f"missing-{claim}": (missing(claim), f'missing the "{claim}" claim')
        for claim in ("exp", "jti", "sub", "iat", "iss", "aud", "typ")
    },
    "nbf-in-future": (not_yet_valid, "not yet valid"),
    "alg-none": (alg_none("none"), ALG_REFUSED),
    "alg-None": (alg_none("None"), ALG_REFUSED),
    "alg-NONE": (alg_none("NONE"), ALG_REFUSED),
    "alg-none-signature-kept": (alg_none("none", keep_signature=True), ALG_REFUSED),
    "alg-HS512-same-secret": (hs512_same_secret, ALG_REFUSED),
    "alg-RS256-own-rsa-key": (rs256, ALG_REFUSED),
    "alg-HS256-rsa-public-pem-as-secret": (hs256_with_public_pem, BAD_SIGNATURE),
    "refresh-as-access": (refresh_as_access, "expected a access token, got refresh"),
    "deactivated-user": (deactivated_user, GONE),
    "deleted-user": (deleted_user, GONE),
    "unknown-sub": (unknown_subject, GONE),
    "malformed-sub": (malformed_subject, "malformed subject"),
    "bearer-garbage": (literal("Bearer not.a.jwt"), "invalid token"),
    "bearer-one-segment": (literal("Bearer garbage"), "invalid token"),
    "bearer-empty": (literal("Bearer "), BAD_HEADER),
    "basic-scheme": (literal("Basic eHl6"), BAD_HEADER),
    "no-scheme": (lambda k: k.genuine, BAD_HEADER),
    "token-scheme": (lambda k: f"Token {k.genuine}", BAD_HEADER),
}


async def attack_header(kit: Kit, case: str) -> str:
    result = ATTACKS[case][0](kit)
    return await result if isinstance(result, Awaitable) else result  # type: ignore[arg-type]  # an attack builds its header now or awaits it


async def ask_me(api: Api, authorization: str) -> tuple[int, dict]:
    r = await api.client.post("/graphql", json={"query": ME}, headers={"authorization": authorization})
    return r.status_code, r.json()


async def test_a_genuine_token_is_accepted(api: Api):
    kit = await make_kit(api)
    status, body = await ask_me(api, bearer(kit.genuine))
    assert status == 200 and body == {
        "data": {"me": {"id": to_global_id("User", kit.user.id), "username": "victim", "role": "DEVELOPER"}}
    }


@pytest.mark.parametrize("case", list(ATTACKS))
async def test_attack_tokens_are_refused_over_http(api: Api, case: str):
    kit = await make_kit(api)
    status, body = await ask_me(api, bearer(kit.genuine))
    assert status == 200 and body["data"]["me"]["username"] == "victim", body  # the control passes first

    status, body = await ask_me(api, await attack_header(kit, case))
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED" and error["extensions"]["errorId"] == "ERR_401_001"
    assert ATTACKS[case][1] in error["message"], error
    assert status == 401


async def test_a_correctly_signed_role_claim_grants_nothing(api: Api):
    """Even with the real secret, the role and permissions claims are not trusted: the stored role is."""
    kit = await make_kit(api)
    forged = kit.sign(kit.claims(role=Role.SUPER_ADMIN.value, permissions=["user:manage", "system:config"]))
    status, body = await ask_me(api, bearer(forged))
    assert status == 200 and body["data"]["me"]["role"] == "DEVELOPER", body
    r = await api.client.post(
        "/graphql", json={"query": "{ users { totalCount } }"}, headers={"authorization": bearer(forged)}
    )
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN" and error["extensions"]["permission"] == "user:manage"


REFRESH_MUTATION = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }"


async def test_a_reuse_revocation_outlives_every_token_of_the_sign_in(tmp_path):
    """A thief rotates a stolen refresh token; the victim's copy then trips reuse detection. The thief's newer
    tokens must stay dead after the stolen token's own expiry, not come back to life."""
    clock = SettableClock()
    async with running_api(sqlite_settings(tmp_path), clock=clock) as api:
        await _reuse_revocation_outlives_the_stolen_token(api, clock)


async def _reuse_revocation_outlives_the_stolen_token(sqlite_api: Api, clock: SettableClock) -> None:
    clock.current = datetime.now(UTC)  # the JWT library checks iat and exp against the system clock
    kit = await make_kit(sqlite_api)
    codec = sqlite_api.container.tokens
    # Issued almost refresh_ttl ago by this server, so it expires in 60 s.
    stolen, _ = codec.issue(
        kit.user, REFRESH, kit.now() - codec.config.refresh_ttl + timedelta(seconds=60), family=uuid.uuid4().hex
    )
    thief = (await sqlite_api.gql(REFRESH_MUTATION, {"t": stolen}, as_=None))["refreshToken"]
    clock.advance(11)  # past the refresh grace window (10 s), where a repeat is a reuse, not a client's retry
    reuse = await sqlite_api.error(REFRESH_MUTATION, {"t": stolen}, as_=None)
    assert reuse["extensions"]["code"] == "UNAUTHENTICATED" and "reuse" in reuse["message"]
    dead = await sqlite_api.error(REFRESH_MUTATION, {"t": thief["refreshToken"]}, as_=None)
    assert dead["extensions"]["code"] == "UNAUTHENTICATED" and "revoked" in dead["message"]
    clock.advance(61)  # past the stolen token's expiry, where a revocation tied to it would end
    refreshed = (await sqlite_api.post(REFRESH_MUTATION, {"t": thief["refreshToken"]}, as_=None)).json()
    assert refreshed.get("data") is None and refreshed["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", (
        f"the thief's refresh token works again: {refreshed}"
    )
    status, body = await ask_me(sqlite_api, bearer(thief["accessToken"]))
    assert status == 401 and body.get("data") is None, f"the thief's access token works again: {body}"


# --- the same attacks on WebSocket connection_init --------------------------------------------------------------

WS_ATTACKS = [
    "expired",
    "alg-none",
    "wrong-aud",
    "tampered-payload-role",
    "other-secret",
    "refresh-as-access",
    "deactivated-user",
    "bearer-garbage",
]


@pytest.fixture
async def live(sqlite_api: Api):
    async with LiveServer(sqlite_api.app) as server:
        yield server


@pytest.mark.parametrize("client", [TransportWs, LegacyWs])
async def test_a_genuine_token_opens_a_websocket(sqlite_api: Api, live: LiveServer, client):
    kit = await make_kit(sqlite_api)
    async with client(live.ws_url) as ws:
        assert (await ws.init({"authorization": bearer(kit.genuine)}))["type"] == "connection_ack"


@pytest.mark.parametrize("client", [TransportWs, LegacyWs])
@pytest.mark.parametrize("case", WS_ATTACKS)
async def test_attack_tokens_close_the_websocket(sqlite_api: Api, live: LiveServer, client, case: str):
    kit = await make_kit(sqlite_api)
    authorization = await attack_header(kit, case)
    async with client(live.ws_url) as ws:
        await ws.ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": authorization}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            message = await ws.recv()
            pytest.fail(f"the socket stayed open and answered {message}")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert ATTACKS[case][1][:60] in closed.value.rcvd.reason
