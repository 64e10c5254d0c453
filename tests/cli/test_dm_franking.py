"""Franked direct messages and reports through the real `koinon` command and a real node.

Alice has two devices, Bob and Eve one each. Sent messages reach the sender's other device; every
message is stamped by the node over NIP-98; Bob's `dm read` drops messages whose commitment does
not open or whose stamp is not the node's, and its sessions keep working; Bob reports a message
and a moderator's `koinon report verify` accepts it, and rejects an altered message, an altered
sender, a wrong reporter and a forged stamp.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest

from koinon.cli import bundles, dmstore, stamping
from koinon.cli.client import RelayClient
from koinon.core.keys import SecretKey
from koinon.messaging import dm, franking
from koinon.messaging.franked_dm import FrankedMessage, frank
from koinon.messaging.giftwrap import wrap_rumor
from koinon.messaging.reports import REPORT_KIND
from tests.cli.cli_devices import (
    PASSPHRASE,
    Device,
    Reported,
    assert_rejected,
    create_report,
    forged_reports,
    initialised,
    now,
    with_key,
)
from tests.helpers import make_key

# Every CLI call starts an interpreter and derives two scrypt keys; on a shared 2-core machine
# under load the module fixture and a dozen calls can take longer than the default 120 s.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def people(relay_url: str) -> Iterator[dict[str, Device]]:
    with (
        tempfile.TemporaryDirectory(prefix="koinon-franking-") as tmp,
        ThreadPoolExecutor(4) as pool,
    ):
        root = Path(tmp)
        alice, bob, eve = pool.map(lambda n: with_key(n, root, relay_url), ["alice", "bob", "eve"])
        alice2 = Device("alice2", root / "alice2", relay_url)  # the same key on a second device
        alice2.home.mkdir()
        shutil.copy(alice.home / "key.ncryptsec", alice2.home / "key.ncryptsec")
        devices = list(pool.map(initialised, [alice, alice2, bob, eve]))
        yield {d.name: d for d in devices}


def test_sent_messages_reach_the_senders_other_device(people: dict[str, Device]) -> None:
    alice, alice2, bob, eve = (people[n] for n in ("alice", "alice2", "bob", "eve"))
    assert alice.hex == alice2.hex
    out = alice.ok("dm", "send", bob.npub, "hello Bob, from Alice's laptop")
    assert f"sent to 1 device(s) of {bob.npub} and 1 other device(s) of yours" in out
    assert bob.read() == [(alice.npub, None, "hello Bob, from Alice's laptop")]
    assert alice2.read() == [(alice.npub, bob.npub, "hello Bob, from Alice's laptop")]

    assert "sent to 2 device(s)" in bob.ok("dm", "send", alice.npub, "hi Alice")
    assert alice.read() == [(bob.npub, None, "hi Alice")]
    assert alice2.read() == [(bob.npub, None, "hi Alice")]

    alice2.ok("dm", "send", bob.npub, "and from Alice's phone")
    assert alice.read() == [(alice.npub, bob.npub, "and from Alice's phone")]
    assert bob.read() == [(alice.npub, None, "and from Alice's phone")]
    assert eve.read() == []

    # Both of Alice's devices hold the whole conversation, with the same ids.
    histories = [d.ok("dm", "history", bob.npub).splitlines() for d in (alice, alice2)]
    assert histories[0] == histories[1] and len(histories[0]) == 3
    assert [line.split(" ", 1)[1].split(": ", 1)[1] for line in histories[0]] == [
        "hello Bob, from Alice's laptop",
        "hi Alice",
        "and from Alice's phone",
    ]
    assert all(re.fullmatch(r"[0-9a-f]{16} .*", line) for line in histories[0])


def _bob_message_id(bob: Device, alice: Device, text: str) -> str:
    for line in bob.ok("dm", "history", alice.npub).splitlines():
        if line.endswith(f"{alice.npub}: {text}"):
            return line.split(" ", 1)[0]
    raise AssertionError(f"{text!r} is not in Bob's history")


@pytest.fixture(scope="module")
def reported(people: dict[str, Device], tmp_path_factory: pytest.TempPathFactory) -> Reported:
    alice, bob = people["alice"], people["bob"]
    alice.ok("dm", "send", bob.npub, "pay me or else")
    assert bob.read() == [(alice.npub, None, "pay me or else")]
    message_id = _bob_message_id(bob, alice, "pay me or else")
    return create_report(bob, message_id, tmp_path_factory.mktemp("reports") / "report.json")


def test_an_honest_report_is_accepted(people: dict[str, Device], reported: Reported) -> None:
    alice, bob, eve = people["alice"], people["bob"], people["eve"]
    assert reported.report["kind"] == REPORT_KIND and reported.report["pubkey"] == bob.hex
    verified = eve.ok("report", "verify", str(reported.path))  # a moderator: here Eve's CLI
    assert f"accepted: {alice.npub} sent this to {bob.npub}" in verified
    assert "message:  pay me or else" in verified and "type:     spam" in verified
    facts = json.loads(eve.ok("report", "verify", str(reported.path), "--json"))
    assert facts["accepted"] and facts["problem"] is None
    assert (facts["sender"], facts["reporter"]) == (alice.hex, bob.hex)


def test_forged_reports_are_rejected(
    people: dict[str, Device], reported: Reported, tmp_path: Path
) -> None:
    bob, eve = people["bob"], people["eve"]
    report, path = reported.report, reported.path
    assert_rejected(eve, forged_reports(report, bob, eve), tmp_path)

    # A node key that is not the stamping node's: rejected too.
    other_node = SecretKey(make_key(999)).public_key
    result = eve.run("report", "verify", str(path), "--node-key", other_node)
    assert result.returncode == 1 and "stamp-not-nodes" in result.stderr


def test_report_mistakes_are_one_line_errors(
    people: dict[str, Device], reported: Reported, tmp_path: Path
) -> None:
    alice, bob, eve = people["alice"], people["bob"], people["eve"]
    content = dict(json.loads(reported.report["content"]), comment="added later")
    tampered = dict(reported.report, content=json.dumps(content))  # not signed again
    (tmp_path / "tampered.json").write_bytes(orjson.dumps(tampered))
    (tmp_path / "junk.json").write_text("{not json")
    sent_id = next(
        line.split(" ", 1)[0]
        for line in alice.ok("dm", "history", bob.npub).splitlines()
        if line.endswith("pay me or else")
    )
    cases = [
        (eve.run("report", "verify", str(tmp_path / "tampered.json")), "does not match"),
        (eve.run("report", "verify", str(tmp_path / "junk.json")), "not a JSON report"),
        (eve.run("report", "verify", str(tmp_path / "missing.json")), "cannot read"),
        (alice.run("report", "create", sent_id), "only its recipient"),
        (bob.run("report", "create", "0123456789ab"), "no message"),
        (bob.run("report", "create", "xyz"), "at least 8 hex"),
    ]
    for result, needle in cases:
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, result.stderr
        assert lines[0].startswith("koinon: error: ") and needle in lines[0], lines[0]


# -- a dishonest sender, crafted in process with Alice's real state and the real node ------------


def _send_crafted(alice: Device, bob: Device, make: Callable[[SecretKey], bytes]) -> None:
    """Encrypt `make(alice's key)` as a session payload to Bob's device in Alice's real session,
    save her state, and publish the wrap, as a modified client would."""
    key = alice.key
    payload = make(key)

    async def go() -> None:
        state = dmstore.load(alice.home, PASSPHRASE, key.public_key)
        async with RelayClient(alice.relay) as client:
            found = await bundles.fetch_bundles(client, [bob.hex])
            ((device, bundle),) = found[bob.hex].items()
            identity = state.device.identity(key.raw)
            content = dm.encrypt_bytes_for(
                state.sessions, identity, device, bundle, payload, os.urandom
            )
            at = now()
            rumor = dm.session_rumor(
                key.public_key, bob.hex, device, state.device.device_id, content, at
            )
            dmstore.store(alice.home, PASSPHRASE, state)
            wrap = wrap_rumor(rumor, key.raw, bob.hex, now=at, random_bytes=os.urandom)
            assert (await client.publish(wrap)).accepted

    asyncio.run(go())


def _stamped(alice: Device, bob: Device, key: SecretKey, committed_text: str) -> Any:
    plaintext = frank(committed_text, os.urandom)
    commitment = franking.commitment_of(plaintext)
    stamp = asyncio.run(stamping.request_stamp(alice.relay, key, commitment, bob.hex))
    return plaintext, stamp


def test_bob_drops_dishonest_messages_and_reads_on(people: dict[str, Device]) -> None:
    alice, bob = people["alice"], people["bob"]

    def altered(key: SecretKey) -> bytes:
        plaintext, stamp = _stamped(alice, bob, key, "what the node stamped")
        shown = dataclasses.replace(plaintext, message=b"what Bob would see")
        return FrankedMessage(shown, stamp).encode()

    def self_stamped(key: SecretKey) -> bytes:
        plaintext = frank("stamped by a made-up node", os.urandom)
        fake_node = make_key(4242)
        stamp = franking.sign_stamp(
            fake_node,
            franking.derive_node_hmac_key(fake_node),
            franking.commitment_of(plaintext),
            key.public_key,
            bob.hex,
            now(),
            os.urandom(32),
        )
        return FrankedMessage(plaintext, stamp).encode()

    def unfranked(key: SecretKey) -> bytes:
        return b'{"v":1,"text":"no franking at all"}'

    def truncated(key: SecretKey) -> bytes:
        plaintext, stamp = _stamped(alice, bob, key, "cut short")
        return FrankedMessage(plaintext, stamp).encode()[:-30]

    expected = {
        altered: "the franking commitment does not open",
        self_stamped: "which you do not trust",
        unfranked: "not franked",
        truncated: "not a franked message",
    }
    for make, needle in expected.items():
        _send_crafted(alice, bob, make)
        result = bob.run("dm", "read")
        assert result.returncode == 0 and result.stdout == "", result
        warnings = result.stderr.strip().splitlines()
        assert len(warnings) == 1 and warnings[0].startswith("koinon: warning: dropped"), warnings
        assert needle in warnings[0] and alice.npub in warnings[0], warnings
        assert "Traceback" not in result.stderr

    # The session is still in step both ways.
    alice.ok("dm", "send", bob.npub, "an honest one")
    assert bob.read() == [(alice.npub, None, "an honest one")]
    bob.ok("dm", "send", alice.npub, "got it")
    assert (bob.npub, None, "got it") in alice.read()
    history = bob.ok("dm", "history", alice.npub)
    assert "what Bob would see" not in history and "made-up node" not in history


def test_no_stamp_no_send(people: dict[str, Device]) -> None:
    """A node that cannot stamp stops the send with one line, and nothing is used up."""
    alice, bob = people["alice"], people["bob"]
    result = alice.run("dm", "send", bob.npub, "unstampable", "--node", "http://127.0.0.1:9")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "cannot reach" in lines[0], lines
    alice.ok("dm", "send", bob.npub, "stamped")
    assert bob.read() == [(alice.npub, None, "stamped")]
