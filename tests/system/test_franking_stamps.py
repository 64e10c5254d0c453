"""`POST /api/franking/stamp` on a real node: NIP-98-authenticated senders get stamps only the node
can make (its HMAC key, its signature) naming themselves; everyone else gets problem JSON.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from koinon.api.franking import STAMP_BURST, STAMP_PATH, STAMPS_PER_SECOND
from koinon.core import httpauth
from koinon.messaging import franking
from koinon.node import Node
from koinon.settings import Settings
from tests.helpers import AUX_RAND, make_key, pubkey_of

ALICE, BOB = make_key(71), make_key(72)


def _commitment(n: int) -> str:
    return hashlib.sha256(f"message {n}".encode()).hexdigest()


def _body(n: int = 0, sender: bytes = ALICE, **changes: Any) -> bytes:
    fields = {
        "commitment": _commitment(n),
        "sender": pubkey_of(sender),
        "recipient": pubkey_of(BOB),
    }
    fields.update(changes)
    return orjson.dumps(fields)


async def _post(
    node: Node,
    body: bytes,
    signer: bytes | None = ALICE,
    signed_body: bytes | None = None,
    now: int | None = None,
) -> tuple[int, dict[str, Any], Any]:
    url = node.http_url + STAMP_PATH
    headers = {"Content-Type": "application/json"}
    if signer is not None:
        signed = body if signed_body is None else signed_body
        headers["Authorization"] = httpauth.authorization(
            signer,
            url,
            "POST",
            signed,
            now=int(time.time()) if now is None else now,
            aux_rand=AUX_RAND,
        )
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status, orjson.loads(await r.read()), r.headers


async def test_an_authenticated_sender_gets_a_stamp_only_the_node_can_make(node: Node) -> None:
    before = int(time.time())
    status, answer, _ = await _post(node, _body())
    assert status == 200, answer
    stamp = franking.FrankingStamp.decode(bytes.fromhex(answer["stamp"]))
    assert (stamp.commitment.hex(), stamp.sender, stamp.recipient) == (
        _commitment(0),
        pubkey_of(ALICE),
        pubkey_of(BOB),
    )
    assert before <= stamp.timestamp <= int(time.time()) and answer["created_at"] == stamp.timestamp
    async with (
        aiohttp.ClientSession() as http,
        http.get(node.http_url, headers={"Accept": "application/nostr+json"}) as response,
    ):
        node_key = (await response.json(content_type=None))["pubkey"]
    assert answer["node"] == node_key == stamp.node_pubkey
    assert franking.verify_stamp(stamp, node_pubkey=node_key)
    hmac_key = franking.derive_node_hmac_key(node.key.raw)
    assert franking.verify_stamp(stamp, node_hmac_key=hmac_key)
    assert not franking.verify_stamp(stamp, node_hmac_key=franking.derive_node_hmac_key(BOB))


async def test_unauthenticated_requests_are_refused(node: Node) -> None:
    status, answer, headers = await _post(node, _body(), signer=None)
    assert status == 401 and answer["reason"] == "auth-required"
    assert headers["WWW-Authenticate"] == "Nostr"
    assert headers["Content-Type"].startswith("application/problem+json")
    # A signature over another body does not authorize this one.
    status, answer, _ = await _post(node, _body(1), signed_body=_body(2))
    assert status == 401 and "payload" in answer["detail"]


async def test_stamps_name_only_the_authenticated_key_as_sender(node: Node) -> None:
    status, answer, _ = await _post(node, _body(sender=BOB), signer=ALICE)
    assert (status, answer["reason"]) == (403, "restricted")
    assert "authenticated key" in answer["detail"]


async def test_an_authorization_is_used_once(node: Node) -> None:
    url = node.http_url + STAMP_PATH
    body = _body(3)
    header = httpauth.authorization(
        ALICE, url, "POST", body, now=int(time.time()), aux_rand=AUX_RAND
    )
    statuses = []
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            async with http.post(url, data=body, headers={"Authorization": header}) as response:
                statuses.append((response.status, (await response.json(content_type=None))))
    assert statuses[0][0] == 200
    assert statuses[1][0] == 401 and "already used" in statuses[1][1]["detail"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "malformed JSON"),
        (b"[]", "JSON object"),
        (_body(commitment="AB" * 32), "'commitment'"),
        (_body(recipient="npub1xyz"), "'recipient'"),
        (b"x" * 5000, "larger than"),
    ],
    ids=["not-json", "not-an-object", "uppercase-commitment", "bad-recipient", "too-large"],
)
async def test_malformed_requests_are_invalid(node: Node, body: bytes, needle: str) -> None:
    status, answer, _ = await _post(node, body)
    assert status in (400, 413) and answer["reason"] == "invalid"
    assert needle in answer["detail"]


class FrozenClock:
    """A node clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


async def test_stamping_is_rate_limited_per_sender(tmp_path: Path) -> None:
    clock = FrozenClock()
    settings = Settings(data_dir=tmp_path / "node", host="127.0.0.1", port=0, anchoring=False)
    node = Node(settings, clock=clock)
    await node.start()
    try:
        now = int(clock.now)
        statuses = [(await _post(node, _body(n), now=now))[0] for n in range(STAMP_BURST)]
        assert statuses == [200] * STAMP_BURST
        status, answer, _ = await _post(node, _body(STAMP_BURST), now=now)
        assert (status, answer["reason"]) == (429, "rate-limited")
        # Another sender has their own budget.
        assert (await _post(node, _body(0, sender=BOB), signer=BOB, now=now))[0] == 200
        clock.now += 1 / STAMPS_PER_SECOND  # one token back
        status, answer, _ = await _post(node, _body(500), now=now)
        assert status == 200  # stamped at the node's time, not the client's
        assert franking.FrankingStamp.decode(bytes.fromhex(answer["stamp"])).timestamp == int(
            clock.now
        )
        assert (await _post(node, _body(501), now=now))[0] == 429
    finally:
        await node.stop()
