"""`POST /api/franking/stamp`: the node binds a commitment to its sender, recipient and time.

The caller authenticates with NIP-98 (a kind-27235 event signed by its key over this URL, the
method and the body's hash) and may only get stamps naming itself as sender. The node never sees
the message, only the commitment. It keeps no record of stamps: the replay cache and the rate
limiter hold NIP-98 event ids and per-key counters for a minute or so, nothing more.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from koinon.api.problem import from_rejected, problem
from koinon.api.routes import CORS
from koinon.core import httpauth
from koinon.core.event import is_hex
from koinon.errors import Reason, Rejected, invalid
from koinon.messaging import franking

log = logging.getLogger(__name__)

STAMP_PATH = "/api/franking/stamp"
MAX_BODY = 4096
STAMPS_PER_SECOND = 2.0  # per sender key, refilling a bucket of
STAMP_BURST = 120
MAX_TRACKED_KEYS = 10_000


class _Buckets:
    """Token buckets per sender key, the least recently used dropped past a bound."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float) -> bool:
        if self.rate <= 0:
            return True
        tokens, updated = self._state.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - updated) * self.rate)
        allowed = tokens >= 1
        self._state[key] = (tokens - 1 if allowed else tokens, now)
        while len(self._state) > MAX_TRACKED_KEYS:
            self._state.popitem(last=False)
        return allowed


class _SeenAuth:
    """NIP-98 event ids already used, kept until they would be too old anyway."""

    def __init__(self) -> None:
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def first_use(self, event_id: str, now: float) -> bool:
        while self._expiry and next(iter(self._expiry.values())) < now:
            self._expiry.popitem(last=False)
        if event_id in self._expiry:
            return False
        self._expiry[event_id] = now + 2 * httpauth.WINDOW_SECONDS + 1
        return True


def _hex_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not is_hex(value, 64):
        raise invalid(f"'{name}' must be 64 lowercase hex characters")
    assert isinstance(value, str)
    return value


class FrankingApi:
    """The stamping endpoint of one node."""

    def __init__(
        self,
        node_secret: bytes,
        public_http_url: str,
        clock: Callable[[], float],
        random_bytes: Callable[[int], bytes],
        *,
        rate: float = STAMPS_PER_SECOND,
        burst: int = STAMP_BURST,
    ) -> None:
        self._secret = node_secret
        self._hmac_key = franking.derive_node_hmac_key(node_secret)
        self._public = public_http_url.rstrip("/")
        self._clock = clock
        self._random = random_bytes
        self._buckets = _Buckets(rate, burst)
        self._seen = _SeenAuth()

    def routes(self) -> list[web.RouteDef]:
        """The stamping route."""
        return [web.post(STAMP_PATH, self.stamp)]

    def _authenticate(self, request: web.Request, body: bytes, now: float) -> str:
        urls = {str(request.url), self._public + request.path_qs}
        event = httpauth.verify_authorization(
            request.headers.get("Authorization"), urls, request.method, body, now=int(now)
        )
        if not self._seen.first_use(event.id, now):
            raise Rejected(Reason.AUTH_REQUIRED, "this NIP-98 authorization was already used")
        return event.pubkey

    def _make_stamp(self, sender: str, body: bytes, now: float) -> franking.FrankingStamp:
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise invalid("malformed JSON") from None
        if not isinstance(raw, dict):
            raise invalid("the body must be a JSON object")
        commitment = bytes.fromhex(_hex_field(raw, "commitment"))
        if _hex_field(raw, "sender") != sender:
            raise Rejected(Reason.RESTRICTED, "stamps name the authenticated key as sender")
        recipient = _hex_field(raw, "recipient")
        if not self._buckets.take(sender, now):
            raise Rejected(Reason.RATE_LIMITED, "too many stamps, slow down")
        return franking.sign_stamp(
            self._secret,
            self._hmac_key,
            commitment,
            sender,
            recipient,
            int(now),
            self._random(32),
        )

    async def stamp(self, request: web.Request) -> web.Response:
        """Stamp `{"commitment", "sender", "recipient"}` (hex) for the NIP-98-authenticated key."""
        if request.content_length is not None and request.content_length > MAX_BODY:
            return problem(413, "too large", f"body larger than {MAX_BODY} bytes", "invalid")
        try:
            body = await request.content.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                raise invalid(f"body larger than {MAX_BODY} bytes")
            now = self._clock()
            sender = self._authenticate(request, body, now)
            stamp = self._make_stamp(sender, body, now)
        except Rejected as rejected:
            response = from_rejected(rejected)
            if rejected.reason is Reason.AUTH_REQUIRED:
                response.headers["WWW-Authenticate"] = httpauth.SCHEME
            return response
        except Exception:
            log.exception("stamping failed")
            return problem(500, "error", "internal error", "error")
        answer = {
            "stamp": stamp.encode().hex(),
            "node": stamp.node_pubkey,
            "created_at": stamp.timestamp,
        }
        return web.json_response(answer, headers=CORS)
