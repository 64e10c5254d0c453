"""What a relay checks before it acknowledges, and what one check costs: run before any timing.

A relay that skipped BIP-340 or id checks would ingest faster for a reason that has nothing to do
with its speed, so every target gets three events before its ingest phase, one at a time on one
connection: a valid one, one whose signature has a flipped bit (its id is right), and one whose
content was changed after signing (its signature is valid for the id it carries, but the id is not
the hash of the event). Then one REQ by id asks which of them the relay stored. The events are of
kind 7 by a key outside the load generator's, so no phase's counts or queries see them.

`verification_floor` times what every relay must do per event whatever it is written in: one
BIP-340 check (libsecp256k1 through coincurve here) and the id's SHA-256 of the canonical JSON.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import coincurve
import orjson

from harness.events import event_id, signed_event, xonly_hex
from harness.wsclients import WebSocket, connect

_PROBE_KIND = 7
_REPLY_TIMEOUT = 10.0
_FLOOR_SAMPLES = 2_000


@dataclass(frozen=True)
class Probe:
    """One event sent to a relay, and whether a verifying relay must accept it."""

    name: str
    event: dict[str, Any]
    valid: bool


def probes(now: int) -> list[Probe]:
    """A valid event, one with a bad signature and one with a wrong id (fresh ids each call)."""
    key = coincurve.PrivateKey(hashlib.sha256(b"koinon-bench/probe-key").digest())
    pubkey = xonly_hex(key)
    nonce = os.urandom(8).hex()  # distinct events on every run, never a `duplicate:`

    def make(label: str) -> dict[str, Any]:
        return signed_event(key, pubkey, now - 5, _PROBE_KIND, [], f"probe {label} {nonce}")

    bad_sig = make("bad-sig")
    sig = bytearray(bytes.fromhex(str(bad_sig["sig"])))
    sig[-1] ^= 0x01
    bad_sig["sig"] = sig.hex()
    wrong_id = make("wrong-id")
    wrong_id["content"] = f"probe wrong-id, edited after signing {nonce}"
    return [
        Probe("bad signature", bad_sig, valid=False),
        Probe("wrong id", wrong_id, valid=False),
        Probe("valid", make("valid"), valid=True),
    ]


async def check_relay(url: str) -> dict[str, Any]:
    """Send the probes to `url` and report each OK and whether the relay stored the event."""
    sent = probes(int(time.time()))
    answers: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, url)
        try:
            for probe in sent:
                answers[probe.name] = await _publish(ws, probe.event)
            stored = await _stored_ids(ws, [str(p.event["id"]) for p in sent])
        finally:
            await ws.close()
    for probe in sent:
        answers[probe.name]["stored"] = None if stored is None else probe.event["id"] in stored
    verifies = all(
        answers[p.name]["accepted"] is p.valid and answers[p.name]["stored"] in (p.valid, None)
        for p in sent
    )
    return {"verifies_ids_and_signatures": verifies, "probes": answers}


def describe(report: dict[str, Any]) -> str:
    """One line per probe: what the relay answered and whether it kept the event."""
    lines = []
    for name, answer in report["probes"].items():
        verdict = {True: "OK true", False: "OK false", None: "no OK"}[answer["accepted"]]
        stored = {True: "stored", False: "not stored", None: "stored?"}[answer["stored"]]
        message = f" {answer['message']!r}" if answer["message"] else ""
        lines.append(f"{name}: {verdict}{message}, {stored}")
    return "; ".join(lines)


def verification_floor(samples: int = _FLOOR_SAMPLES) -> dict[str, Any]:
    """CPU microseconds per BIP-340 verification and per id hash, best of 5 rounds of `samples`."""
    key = coincurve.PrivateKey(hashlib.sha256(b"koinon-bench/floor-key").digest())
    pubkey = xonly_hex(key)
    events = [
        signed_event(key, pubkey, 1_700_000_000 + i, 1, [["t", "x"]], f"floor {i}")
        for i in range(samples)
    ]
    checks = [
        (
            coincurve.PublicKeyXOnly(bytes.fromhex(pubkey)),
            bytes.fromhex(str(e["sig"])),
            bytes.fromhex(str(e["id"])),
        )
        for e in events
    ]

    def verify_all() -> None:
        if not all(k.verify(sig, msg) for k, sig, msg in checks):
            raise AssertionError("a valid signature failed to verify")

    def hash_all() -> None:
        for e in events:
            event_id(e["pubkey"], e["created_at"], e["kind"], e["tags"], e["content"])

    return {
        "bip340_verify_us": _best_us(verify_all, samples),
        "event_id_sha256_us": _best_us(hash_all, samples),
        "samples": samples,
        "library": f"coincurve {coincurve_version()} (bundled libsecp256k1)",
    }


def coincurve_version() -> str:
    """The installed coincurve's version."""
    from importlib.metadata import version

    return version("coincurve")


def secp256k1_in_binary(path: Path) -> str | None:
    """Which libsecp256k1 a (stripped) Rust binary bundles, read from its strings, if any."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    prefix = re.search(rb"rustsecp256k1_v(\d+)_(\d+)_(\d+)_", data)
    crate = re.search(rb"secp256k1-sys-(\d+\.\d+\.\d+)", data)
    schnorr = b"schnorrsig" in data
    if prefix is None:
        return None
    version = ".".join(g.decode() for g in prefix.groups())
    return (
        f"libsecp256k1 statically linked (symbol prefix rustsecp256k1_v{version.replace('.', '_')}"
        + (f", crate secp256k1-sys {crate.group(1).decode()}" if crate else "")
        + (", schnorrsig module present" if schnorr else "")
        + ")"
    )


def _best_us(job: Callable[[], None], samples: int, rounds: int = 5) -> float:
    # This thread's CPU time, not the wall clock: other work on the machine preempts us.
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()
        job()
        best = min(best, time.thread_time() - started)
    return round(best / samples * 1e6, 2)


async def _publish(ws: WebSocket, event: dict[str, Any]) -> dict[str, Any]:
    await ws.send_frame(orjson.dumps(["EVENT", event]), aiohttp.WSMsgType.TEXT)
    try:
        async with asyncio.timeout(_REPLY_TIMEOUT):
            while True:
                msg = await ws.receive()
                if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    return {"accepted": None, "message": f"connection {msg.type.name}"}
                reply = orjson.loads(msg.data)
                # One event is in flight at a time, so an OK naming no event is its answer
                # (nostr-relay answers a rejected event with an empty id, then throttles).
                if reply[0] == "OK" and reply[1] in (event["id"], ""):
                    note = "" if reply[1] else " (OK without the event id)"
                    return {"accepted": reply[2] is True, "message": f"{reply[3]}{note}"}
                if reply[0] == "NOTICE":
                    return {"accepted": None, "message": f"NOTICE {reply[1]}"}
    except TimeoutError:
        return {"accepted": None, "message": f"no reply in {_REPLY_TIMEOUT:.0f} s"}


async def _stored_ids(ws: WebSocket, ids: list[str]) -> set[str] | None:
    """The ids among `ids` that a REQ returns, or None if the REQ gets no EOSE."""
    await ws.send_frame(orjson.dumps(["REQ", "probe", {"ids": ids}]), aiohttp.WSMsgType.TEXT)
    found: set[str] = set()
    try:
        async with asyncio.timeout(_REPLY_TIMEOUT):
            while True:
                msg = await ws.receive()
                if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    return None
                reply = orjson.loads(msg.data)
                if reply[0] == "EVENT" and reply[1] == "probe":
                    found.add(reply[2]["id"])
                elif reply[0] == "EOSE" and reply[1] == "probe":
                    return found
                elif reply[0] == "CLOSED" and reply[1] == "probe":
                    return None
    except TimeoutError:
        return None
