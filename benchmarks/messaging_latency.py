"""End-to-end latency of Koinon session messages through a real local node (used by messaging.py).

A `koinon up` process listens on 127.0.0.1. Bob authenticates (NIP-42) and subscribes live to his
gift wraps; Alice sends him one message at a time over her own websocket and waits for Bob to have
it before sending the next. One message's latency runs from Alice starting to encrypt to Bob
holding the checked plaintext:

  * session: Double Ratchet encrypt, kind-1448 rumor, seal and gift wrap, EVENT to the node
    (verify, SQLite commit with synchronous=FULL, fan-out), Bob unwraps and decrypts;
  * franked: the same plus the franking commitment, a NIP-98-signed stamp request to the node over
    HTTP (kept-alive connection) and Bob's franking checks: what `koinon dm send` does per message.

"crypto only" is the same client work with no node in between, so the difference is transport and
node. Percentiles are nearest-rank.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from koinon.core import httpauth
from koinon.core.event import parse_event, sign_event
from koinon.core.keys import SecretKey
from koinon.messaging import dm, franking
from koinon.messaging.franked_dm import FrankedMessage, check_received, frank
from koinon.messaging.giftwrap import Rumor, unwrap, wrap_rumor
from koinon.sessions.prekeys import PrekeyBundle

ROOT = Path(__file__).resolve().parent.parent
TEXT = "x" * 100
_WS_LINE = re.compile(r"websocket:\s*(ws://\S+)")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@contextlib.contextmanager
def running_node(anchor: bool) -> Iterator[str]:
    """A `koinon up` subprocess on a free port in a scratch folder; yields its websocket URL."""
    with tempfile.TemporaryDirectory(prefix="koinon-bench-dm-") as scratch:
        args = [sys.executable, "-m", "koinon.cli.main", "up", "--host", "127.0.0.1"]
        args += ["--port", "0", "--data-dir", str(Path(scratch) / "data")]
        args += ["--log-level", "WARNING"] + ([] if anchor else ["--no-anchor"])
        proc = subprocess.Popen(
            args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:  # blocks until the node prints its address (or exits)
                if match := _WS_LINE.search(line):
                    yield match.group(1)
                    break
            else:
                raise RuntimeError(f"koinon up exited with status {proc.wait()}")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass(eq=False)
class Party:
    """One person with one device."""

    key: SecretKey
    device: dm.LocalDevice
    sessions: dm.DeviceSessions

    @classmethod
    def create(cls, name: str) -> Party:
        return cls(
            SecretKey.generate(os.urandom),
            dm.LocalDevice.generate(name, 5, os.urandom),
            dm.DeviceSessions(os.urandom),
        )

    @property
    def me(self) -> str:
        return self.key.public_key

    @functools.cached_property
    def bundle(self) -> PrekeyBundle:
        """The published bundle, made once (a sender fetches it, it does not sign it)."""
        return self.device.bundle(self.key.raw, os.urandom)

    def rumor_to(self, peer: Party, payload: bytes) -> Rumor:
        identity = self.device.identity(self.key.raw)
        bundle = peer.bundle
        content = dm.encrypt_bytes_for(
            self.sessions, identity, peer.device.device_id, bundle, payload, os.urandom
        )
        return dm.session_rumor(
            self.me,
            peer.me,
            peer.device.device_id,
            self.device.device_id,
            content,
            int(time.time()),
        )

    def open(self, rumor: Rumor, sender: str) -> bytes:
        return dm.decrypt_bytes_from(
            self.sessions, self.device, self.key.raw, sender, rumor, os.urandom
        )


def paired() -> tuple[Party, Party]:
    """Alice and Bob after the X3DH handshake and one answer (steady state, no header)."""
    alice, bob = Party.create("alice"), Party.create("bob")
    bob.open(alice.rumor_to(bob, b"hello"), alice.me)
    alice.open(bob.rumor_to(alice, b"hi"), bob.me)
    return alice, bob


Stamper = Callable[[bytes], Awaitable[franking.FrankingStamp]]


async def _payload(alice: Party, bob: Party, stamper: Stamper | None) -> bytes:
    if stamper is None:
        return TEXT.encode()
    plaintext = frank(TEXT, os.urandom)
    stamp = await stamper(franking.commitment_of(plaintext))
    return FrankedMessage(plaintext, stamp).encode()


def _check(payload: bytes, alice: Party, bob: Party, franked: bool, node_key: str) -> None:
    if not franked:
        if payload != TEXT.encode():
            raise AssertionError("wrong plaintext")
        return
    message = FrankedMessage.decode(payload)
    check_received(message, alice.me, bob.me, {node_key})
    if message.text != TEXT:
        raise AssertionError("wrong plaintext")


def _stamper(http: aiohttp.ClientSession, base: str, alice: Party, bob: Party) -> Stamper:
    """Stamps from the node for Alice's messages to Bob, over one kept-alive HTTP session."""
    url = base + "/api/franking/stamp"

    async def stamp(commitment: bytes) -> franking.FrankingStamp:
        body = orjson.dumps(
            {"commitment": commitment.hex(), "sender": alice.me, "recipient": bob.me}
        )
        header = httpauth.authorization(
            alice.key.raw, url, "POST", body, now=int(time.time()), aux_rand=os.urandom(32)
        )
        async with http.post(url, data=body, headers={"Authorization": header}) as response:
            answer = await response.json(content_type=None)
            if response.status != 200:
                raise RuntimeError(f"stamp refused: {answer}")
        return franking.FrankingStamp.decode(bytes.fromhex(answer["stamp"]))

    return stamp


async def _node_key(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(base, headers={"Accept": "application/nostr+json"}) as response:
        return str((await response.json(content_type=None))["pubkey"])


async def _auth(ws: aiohttp.ClientWebSocketResponse, key: SecretKey, url: str) -> None:
    frame = orjson.loads((await ws.receive()).data)
    event = sign_event(
        key.raw,
        kind=22242,
        content="",
        tags=[["relay", url], ["challenge", frame[1]]],
        created_at=int(time.time()),
        aux_rand=os.urandom(32),
    )
    await ws.send_str(orjson.dumps(["AUTH", event.to_dict()]).decode())
    while (reply := orjson.loads((await ws.receive()).data))[0] != "OK":
        pass
    if not reply[2]:
        raise RuntimeError(f"AUTH refused: {reply}")


async def measure_through_node(url: str, count: int, franked: bool) -> list[float]:
    """Latencies in seconds of `count` messages from Alice to Bob through the node at `url`."""
    alice, bob = paired()
    base = "http" + url[2:]
    latencies: list[float] = []
    async with aiohttp.ClientSession() as http:
        node_key = await _node_key(http, base)
        async with (
            http.ws_connect(url, max_msg_size=0) as bob_ws,
            http.ws_connect(url, max_msg_size=0) as alice_ws,
        ):
            await _auth(bob_ws, bob.key, url)
            filters = {"kinds": [1059], "#p": [bob.me], "limit": 0}
            await bob_ws.send_str(orjson.dumps(["REQ", "inbox", filters]).decode())
            while orjson.loads((await bob_ws.receive()).data)[0] != "EOSE":
                pass

            stamper = _stamper(http, base, alice, bob)

            async def drain_oks() -> None:
                async for _ in alice_ws:
                    pass

            drain = asyncio.create_task(drain_oks())
            for _ in range(count):
                start = time.perf_counter()
                payload = await _payload(alice, bob, stamper if franked else None)
                rumor = alice.rumor_to(bob, payload)
                wrap = wrap_rumor(
                    rumor, alice.key.raw, bob.me, now=int(time.time()), random_bytes=os.urandom
                )
                await alice_ws.send_str(orjson.dumps(["EVENT", wrap.to_dict()]).decode())
                while True:
                    frame = orjson.loads((await bob_ws.receive()).data)
                    if frame[0] == "EVENT" and frame[2]["id"] == wrap.id:
                        break
                message = unwrap(parse_event(frame[2]), bob.key.raw)
                _check(bob.open(message.rumor, message.sender), alice, bob, franked, node_key)
                latencies.append(time.perf_counter() - start)
            drain.cancel()
            await asyncio.gather(drain, return_exceptions=True)
    return latencies


def measure_crypto_only(count: int) -> list[float]:
    """The same client work as the session measure, handed over in memory."""
    alice, bob = paired()
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        rumor = alice.rumor_to(bob, TEXT.encode())
        wrap = wrap_rumor(
            rumor, alice.key.raw, bob.me, now=int(time.time()), random_bytes=os.urandom
        )
        message = unwrap(parse_event(orjson.loads(wrap.to_json())), bob.key.raw)
        if bob.open(message.rumor, message.sender) != TEXT.encode():
            raise AssertionError("wrong plaintext")
        latencies.append(time.perf_counter() - start)
    return latencies


def report(name: str, latencies: list[float]) -> str:
    """One table row: name, count, p50 and p99 in milliseconds."""
    p50, p99 = percentile(latencies, 50) * 1e3, percentile(latencies, 99) * 1e3
    return f"{name:<34} {len(latencies):>6} {p50:>9.2f} {p99:>9.2f}"


def run(session_count: int, franked_count: int, anchor: bool) -> None:
    """Start a node, measure, print the table."""
    anchoring = "on" if anchor else "off"
    print(f"\nend-to-end latency through a local node (ms; node anchoring {anchoring})")
    print(f"{'path':<34} {'msgs':>6} {'p50':>9} {'p99':>9}")
    print(report("crypto only (no node)", measure_crypto_only(session_count)))
    with running_node(anchor) as url:
        asyncio.run(measure_through_node(url, 20, False))  # warm-up: connections, page cache
        rows = [
            (
                "session message via node",
                asyncio.run(measure_through_node(url, session_count, False)),
            ),
            (
                "franked message via node (+stamp)",
                asyncio.run(measure_through_node(url, franked_count, True)),
            ),
        ]
    for name, latencies in rows:
        print(report(name, latencies))
