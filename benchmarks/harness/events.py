"""Pre-signed NIP-01 events for the load generator, built before any timing starts.

Event i is kind 1, authored by key `i % keys`, tagged `["t", topic(i % topics)]`, with distinct
content, so a REQ filter can be aimed at a known author or topic. Signing is spread over a process
pool because a Schnorr signature costs ~0.2 ms here.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from dataclasses import dataclass
from typing import Any

import coincurve
import orjson

_CHUNK = 5_000
_FRAME_PREFIX = b'["EVENT",{"id":"'


@dataclass(frozen=True)
class EventPlan:
    """What to generate: `count` events by `keys` authors over `topics` hashtags."""

    count: int
    keys: int = 32
    topics: int = 64
    created_base: int = 0
    seed: str = "koinon-bench"


def private_key(plan: EventPlan, index: int) -> coincurve.PrivateKey:
    """The deterministic secret key of author `index`."""
    secret = hashlib.sha256(f"{plan.seed}/key/{index}".encode()).digest()
    return coincurve.PrivateKey(secret)


def public_keys(plan: EventPlan) -> list[str]:
    """The x-only public keys (hex) of all authors, in author order."""
    return [xonly_hex(private_key(plan, k)) for k in range(plan.keys)]


def topic(index: int) -> str:
    """The `t` tag value of topic `index`."""
    return f"kbench{index}"


def event_frame(plan: EventPlan, i: int, key: coincurve.PrivateKey, pubkey: str) -> bytes:
    """The complete `["EVENT", {...}]` client frame for event i, signed."""
    created_at = plan.created_base + i // 10
    tags = [["t", topic(i % plan.topics)]]
    content = f"koinon ingest benchmark event {i} ({plan.seed})"
    return orjson.dumps(["EVENT", signed_event(key, pubkey, created_at, 1, tags, content)])


def event_id(pubkey: str, created_at: int, kind: int, tags: list[list[str]], content: str) -> bytes:
    """The NIP-01 id: SHA-256 of the compact JSON [0, pubkey, created_at, kind, tags, content]."""
    return hashlib.sha256(orjson.dumps([0, pubkey, created_at, kind, tags, content])).digest()


def signed_event(
    key: coincurve.PrivateKey,
    pubkey: str,
    created_at: int,
    kind: int,
    tags: list[list[str]],
    content: str,
) -> dict[str, Any]:
    """A complete NIP-01 event with its id and BIP-340 signature."""
    digest = event_id(pubkey, created_at, kind, tags, content)
    return {
        "id": digest.hex(),
        "pubkey": pubkey,
        "created_at": created_at,
        "kind": kind,
        "tags": tags,
        "content": content,
        "sig": key.sign_schnorr(digest, os.urandom(32)).hex(),
    }


def frame_event_id(frame: bytes) -> str:
    """The event id inside a frame made by `event_frame` (its first field), without parsing."""
    start = len(_FRAME_PREFIX)
    return frame[start : start + 64].decode()


def generate(plan: EventPlan, processes: int) -> list[bytes]:
    """All `plan.count` frames in index order, signed in parallel."""
    ranges = [(start, min(start + _CHUNK, plan.count)) for start in range(0, plan.count, _CHUNK)]
    pool = multiprocessing.get_context("fork").Pool(processes)
    try:
        chunks = pool.starmap(_generate_range, [(plan, lo, hi) for lo, hi in ranges])
    finally:
        pool.close()  # not terminate(): SIGTERM would surface in the workers as tracebacks
        pool.join()
    return [frame for chunk in chunks for frame in chunk]


def _generate_range(plan: EventPlan, lo: int, hi: int) -> list[bytes]:
    keys = [private_key(plan, k) for k in range(plan.keys)]
    pubkeys = [xonly_hex(key) for key in keys]
    return [
        event_frame(plan, i, keys[i % plan.keys], pubkeys[i % plan.keys]) for i in range(lo, hi)
    ]


def xonly_hex(key: coincurve.PrivateKey) -> str:
    """The x-only public key of `key`, as NIP-01 writes it (64 hex digits)."""
    return bytes(key.public_key_xonly.format()).hex()
