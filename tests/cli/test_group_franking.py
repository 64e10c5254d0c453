"""Franked group messages and their reports through the real `koinon` command and a real node.

Alice and Bob are in a group, Eve (the moderator here) is not. Every group message is stamped by
Alice's node for a fresh audience digest; Bob's `group read` drops messages whose commitment does
not open, whose stamp is not a trusted node's or names another audience, and unfranked ones, and
reads on; Bob reports a message and `koinon report verify` accepts it, and rejects an altered
message, an altered sender, a reporter outside the audience, a report without its audience proof
and a forged stamp. A send whose stamp cannot be had changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from koinon.cli import groupsync, keystore, stamping
from koinon.cli.client import RelayClient
from koinon.core.keys import SecretKey
from koinon.messaging import franking, group_chat, group_message
from koinon.messaging.audience import make_audience
from koinon.messaging.franked_dm import frank
from koinon.messaging.franked_group import FrankedGroupMessage
from koinon.messaging.group_chat import Broadcast
from koinon.messaging.reports import GROUP_REPORT_VERSION, REPORT_KIND
from tests.cli.cli_devices import (
    PASSPHRASE,
    Device,
    Reported,
    assert_rejected,
    create_report,
    forged_reports,
    initialised,
    now,
    resign,
    with_key,
)
from tests.helpers import make_key

# Every CLI call starts an interpreter and derives two scrypt keys; slow on a loaded 2-core box.
pytestmark = pytest.mark.timeout(300)

GROUP_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[club\] (npub1\w+): (.*)")


def group_read(device: Device) -> list[tuple[str, str]]:
    """(sender npub, text) of each new message `group read` prints; notices are left out."""
    lines = []
    for line in device.ok("group", "read").splitlines():
        if "] * " not in line:
            match = GROUP_LINE.fullmatch(line)
            assert match, line
            lines.append((match.group(1), match.group(2)))
    return lines


def message_id(device: Device, text: str) -> str:
    """The id `group history` shows for the message with this text."""
    for line in device.ok("group", "history", "club").splitlines():
        if line.endswith(f": {text}"):
            return line.split(" ", 1)[0]
    raise AssertionError(f"{text!r} is not in {device.name}'s group history")


@pytest.fixture(scope="module")
def club(relay_url: str) -> Iterator[dict[str, Device]]:
    """Alice's group 'club' with Bob in it; Eve has a key and a DM device but is not a member."""
    with (
        tempfile.TemporaryDirectory(prefix="koinon-group-franking-") as tmp,
        ThreadPoolExecutor(3) as pool,
    ):
        names = ["alice", "bob", "eve"]
        made = pool.map(lambda n: with_key(n, Path(tmp), relay_url), names)
        alice, bob, eve = pool.map(initialised, list(made))
        out = alice.ok("group", "create", "club", "-m", bob.npub)
        assert "with 2 member devices" in out
        assert f"{alice.npub} added you to 'club'" in bob.ok("group", "read")
        yield {"alice": alice, "bob": bob, "eve": eve}


@pytest.fixture(scope="module")
def reported(club: dict[str, Device], tmp_path_factory: pytest.TempPathFactory) -> Reported:
    alice, bob = club["alice"], club["bob"]
    assert alice.ok("group", "send", "club", "pay me or else") == "sent to 1 member(s) of 'club'\n"
    assert group_read(bob) == [(alice.npub, "pay me or else")]
    sent_id = message_id(bob, "pay me or else")
    assert message_id(alice, "pay me or else") == sent_id  # the same id on both sides
    return create_report(bob, sent_id, tmp_path_factory.mktemp("group-reports") / "report.json")


def test_an_honest_group_report_is_accepted(club: dict[str, Device], reported: Reported) -> None:
    alice, bob, eve = club["alice"], club["bob"], club["eve"]
    report = reported.report
    assert report["kind"] == REPORT_KIND and report["pubkey"] == bob.hex
    assert json.loads(report["content"])["v"] == GROUP_REPORT_VERSION
    verified = eve.ok("report", "verify", str(reported.path))
    assert f"accepted: {alice.npub} sent this to {bob.npub} in a group message to 1 person" in (
        verified
    )
    assert "message:  pay me or else" in verified and "type:     spam" in verified
    facts = json.loads(eve.ok("report", "verify", str(reported.path), "--json"))
    assert facts["accepted"] and facts["problem"] is None and facts["group_size"] == 1
    assert (facts["sender"], facts["reporter"]) == (alice.hex, bob.hex)
    assert facts["recipient"] not in (alice.hex, bob.hex)  # the audience digest names nobody
    result = alice.run("report", "create", message_id(alice, "pay me or else"))
    assert result.returncode == 1 and "only its recipient" in result.stderr


def test_forged_group_reports_are_rejected(
    club: dict[str, Device], reported: Reported, tmp_path: Path
) -> None:
    bob, eve = club["bob"], club["eve"]
    forgeries = forged_reports(reported.report, bob, eve)  # Eve is outside the group
    forgeries["audience-proof-left-out"] = (
        resign(reported.report, bob.key, v=1),
        "reporter-not-recipient",
    )
    assert_rejected(eve, forgeries, tmp_path)


# -- a dishonest sender, crafted in process with Alice's real group state and the real node ------


def _send_crafted(alice: Device, make: Callable[[SecretKey, FrankedGroupMessage], bytes]) -> None:
    """Encrypt `make(alice's key, an honest franked message)` with Alice's real sender key and
    publish it to the group through the real node, as a modified client would."""
    ctx = groupsync.open_context(argparse.Namespace(home=str(alice.home)))
    chat = ctx.store.find("club")

    async def go() -> None:
        audience = group_chat.audience(chat, os.urandom)
        plaintext = frank("honestly stamped", os.urandom)
        commitment = franking.commitment_of(plaintext)
        async with RelayClient(alice.relay) as client:
            stamp = await stamping.request_stamp(
                alice.relay, ctx.key, commitment, audience.digest()
            )
            payload = make(ctx.key, FrankedGroupMessage(plaintext, stamp, audience))
            content = group_message.message_content(chat.state.encrypt(payload))
            broadcast = Broadcast(chat.group_id, audience.members, content)
            assert await groupsync.deliver(client, ctx, [], [broadcast], now()) == []

    asyncio.run(go())


def _altered(key: SecretKey, honest: FrankedGroupMessage) -> bytes:
    shown = dataclasses.replace(honest.plaintext, message=b"what Bob would see")
    return dataclasses.replace(honest, plaintext=shown).encode()


def _self_stamped(key: SecretKey, honest: FrankedGroupMessage) -> bytes:
    fake_node = make_key(4343)
    stamp = franking.sign_stamp(
        fake_node,
        franking.derive_node_hmac_key(fake_node),
        honest.commitment,
        key.public_key,
        honest.audience.digest(),
        now(),
        os.urandom(32),
    )
    return dataclasses.replace(honest, stamp=stamp).encode()


def _other_audience(key: SecretKey, honest: FrankedGroupMessage) -> bytes:
    """The node stamped one audience; the message carries another with Bob in it."""
    swapped = make_audience(honest.audience.members, os.urandom)
    return dataclasses.replace(honest, audience=swapped).encode()


def _unfranked(key: SecretKey, honest: FrankedGroupMessage) -> bytes:
    return b'{"v":1,"text":"no franking at all"}'


def test_bob_drops_dishonest_group_messages_and_reads_on(
    club: dict[str, Device], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, PASSPHRASE)
    alice, bob = club["alice"], club["bob"]
    group_read(bob)
    history = bob.ok("group", "history")
    expected = {
        _altered: "the franking commitment does not open",
        _self_stamped: "which you do not trust",
        _other_audience: "the stamp names another recipient",
        _unfranked: "not franked (an older client sent it)",
    }
    for make, needle in expected.items():
        _send_crafted(alice, make)
        result = bob.run("group", "read")
        assert result.returncode == 0 and result.stdout == "", result
        warnings = result.stderr.strip().splitlines()
        assert len(warnings) == 1, warnings
        assert warnings[0].startswith(f"koinon: warning: dropped a message from {alice.npub} in ")
        assert needle in warnings[0] and "Traceback" not in result.stderr, warnings
    assert bob.ok("group", "history") == history  # nothing dropped was kept

    alice.ok("group", "send", "club", "an honest one")
    assert group_read(bob) == [(alice.npub, "an honest one")]
    bob.ok("group", "send", "club", "got it")
    assert group_read(alice) == [(bob.npub, "got it")]


def test_no_stamp_no_send(club: dict[str, Device], monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that cannot stamp stops the send with one line, and Alice's group state is as it
    was: no sender key used up, nothing kept."""
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, PASSPHRASE)
    alice, bob = club["alice"], club["bob"]

    def state() -> bytes:
        return groupsync.open_context(argparse.Namespace(home=str(alice.home))).store.to_bytes()

    before = state()
    result = alice.run("group", "send", "club", "unstampable", "--node", "http://127.0.0.1:9")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "cannot reach" in lines[0], lines
    assert state() == before
    alice.ok("group", "send", "club", "stamped")
    assert group_read(bob) == [(alice.npub, "stamped")]
