"""NIP-98 HTTP Auth: a kind-27235 event, signed by the caller, authorizes one HTTP request.

The event names the absolute URL (`u`), the method and the SHA-256 of the body (`payload`), and
travels base64-encoded in `Authorization: Nostr <base64>`. Pure: the time is a parameter.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Collection

import orjson

from koinon.core.event import Event, parse_event, sign_event, verify_event
from koinon.errors import Reason, Rejected

HTTP_AUTH_KIND = 27235
WINDOW_SECONDS = 60  # NIP-98's suggested window
SCHEME = "Nostr"
MAX_HEADER_BYTES = 8192


def _refuse(message: str) -> Rejected:
    return Rejected(Reason.AUTH_REQUIRED, message)


def authorization(
    secret: bytes, url: str, method: str, body: bytes, *, now: int, aux_rand: bytes
) -> str:
    """The `Authorization` header value authorizing `method url` with this exact body."""
    tags = [["u", url], ["method", method.upper()]]
    if body:
        tags.append(["payload", hashlib.sha256(body).hexdigest()])
    event = sign_event(
        secret, kind=HTTP_AUTH_KIND, content="", created_at=now, aux_rand=aux_rand, tags=tags
    )
    return f"{SCHEME} {base64.b64encode(event.to_json()).decode()}"


def _decode(header: str | None) -> Event:
    if not header:
        raise _refuse("sign the request with NIP-98 (Authorization: Nostr …)")
    scheme, _, token = header.strip().partition(" ")
    if scheme != SCHEME or not token:
        raise _refuse("the Authorization scheme must be 'Nostr' (NIP-98)")
    if len(token) > MAX_HEADER_BYTES:
        raise _refuse("the NIP-98 authorization is too long")
    try:
        raw = orjson.loads(base64.b64decode(token.strip(), validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise _refuse("the NIP-98 authorization is not base64 of a JSON event") from None
    try:
        event = parse_event(raw)
        verify_event(event)
    except Rejected as exc:
        raise _refuse(f"the NIP-98 event is not valid: {exc.message}") from None
    return event


def verify_authorization(
    header: str | None, urls: Collection[str], method: str, body: bytes, *, now: int
) -> Event:
    """The verified kind-27235 event authorizing this request; otherwise `Rejected(AUTH_REQUIRED)`.

    `urls` are the spellings of the request's absolute URL the server answers to (the `u` tag must
    equal one of them exactly). A body must be bound by a `payload` tag.
    """
    event = _decode(header)
    if event.kind != HTTP_AUTH_KIND:
        raise _refuse(f"the NIP-98 event must be kind {HTTP_AUTH_KIND}")
    if abs(event.created_at - now) > WINDOW_SECONDS:
        raise _refuse(f"the NIP-98 event must be signed within {WINDOW_SECONDS} s of now")
    if event.first_tag("u") not in urls:
        raise _refuse("the NIP-98 event names another URL")
    if (event.first_tag("method") or "").upper() != method.upper():
        raise _refuse("the NIP-98 event names another method")
    payload = event.first_tag("payload")
    if body and payload != hashlib.sha256(body).hexdigest():
        raise _refuse("the NIP-98 payload tag is not the SHA-256 of this body")
    return event


__all__ = ["HTTP_AUTH_KIND", "WINDOW_SECONDS", "authorization", "verify_authorization"]
