"""`koinon group` against a real node: people create a group and read each other, a joiner reads
only what follows, a removed member reads nothing sent after (its own stored state tries), bad
group messages are reported and change nothing, and no secret is ever printed or logged.

Commands run in process, on the node's event loop, through the same parser and functions as the
`koinon` executable; one test runs the executable itself for its error line. Keys are sealed
with a cheap scrypt cost so that the many commands stay fast.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from koinon.cli import groupsync, keystore
from koinon.cli.main import build_parser
from koinon.core import ncryptsec
from koinon.core.event import parse_event
from koinon.core.keys import SecretKey, npub
from koinon.errors import KoinonError
from koinon.messaging import group_message
from koinon.messaging.giftwrap import unwrap, wrap_rumor
from koinon.messaging.group_chat import Broadcast
from koinon.messaging.group_control import GROUP_MESSAGE_KIND
from koinon.messaging.group_state import GroupStore
from koinon.node import Node
from koinon.sessions.errors import DecryptError
from koinon.sessions.group_wire import GroupMessage
from koinon.sessions.groups import MissingSenderKey
from tests.helpers import ROOT, WsClient, connect, make_key

PASSPHRASE = "group test passphrase"
LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[(?P<group>[^\]]+)\] (?P<rest>.*)")


@dataclass(eq=False)
class Person:
    """One user with their own home, driving `koinon` in process."""

    name: str
    home: Path
    key: SecretKey
    relay: str
    capture: Callable[[], tuple[str, str]]

    @property
    def npub(self) -> str:
        return npub(self.key.public_key)

    async def run(self, *argv: str) -> tuple[str, str]:
        """(stdout, stderr) of one command that must succeed."""
        args = build_parser().parse_args([*argv, "--home", str(self.home)])
        if hasattr(args, "relay"):
            args.relay = self.relay
        self.capture()
        result = args.run(args)
        if asyncio.iscoroutine(result):
            result = await result
        assert result == 0
        out, err = self.capture()
        assert "Traceback" not in err
        return out, err

    async def fails(self, *argv: str) -> str:
        """The message of a command that must fail with our own error."""
        with pytest.raises(KoinonError) as info:
            await self.run(*argv)
        self.capture()
        return str(info.value)

    async def read(self, group: str | None = None) -> list[tuple[str, str]]:
        """(group, 'npub…: text' or '* notice') of each line `group read` prints."""
        out, _ = await self.run("group", "read", *([group] if group else []))
        return parse_lines(out)

    def said(self, lines: list[tuple[str, str]], by: Person) -> list[str]:
        return [rest.split(": ", 1)[1] for _, rest in lines if rest.startswith(by.npub + ":")]

    def store(self) -> GroupStore:
        """This person's group state, opened from its sealed file as the CLI does."""
        ctx = groupsync.open_context(argparse.Namespace(home=str(self.home)))
        return ctx.store


def parse_lines(out: str) -> list[tuple[str, str]]:
    """(group, 'npub…: text' or '* notice') of each printed line."""
    lines = []
    for line in out.splitlines():
        match = LINE.fullmatch(line)
        assert match, line
        lines.append((match["group"], match["rest"]))
    return lines


@pytest.fixture
def people(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., list[Person]]:
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, PASSPHRASE)

    def capture() -> tuple[str, str]:
        captured = capsys.readouterr()
        return captured.out, captured.err

    def make(*names: str) -> list[Person]:
        made = []
        for index, name in enumerate(names):
            home = tmp_path / name
            home.mkdir()
            key = SecretKey(make_key(4000 + index + 17 * len(name)))
            sealed = ncryptsec.encrypt(key.raw, PASSPHRASE, os.urandom, log_n=4)
            keystore.key_path(home).write_text(sealed + "\n")
            made.append(Person(name, home, key, node.ws_url, capture))
        return made

    return make


async def init(*persons: Person) -> None:
    for person in persons:
        await person.run("dm", "init")


async def group_messages_for(person: Person, relay: str) -> list[GroupMessage]:
    """Every group message gift-wrapped to `person`, opened with their key (the test has it)."""
    async with connect(relay) as client:
        assert (await client.auth(person.key.raw, relay))[0]
        wraps = await client.query({"kinds": [1059], "#p": [person.key.public_key]})
    found = []
    for raw in wraps:
        rumor = unwrap(parse_event(raw), person.key.raw).rumor
        if rumor.kind == GROUP_MESSAGE_KIND:
            found.append(group_message.parse_message_content(rumor.content))
    return found


async def test_create_add_remove_through_a_real_node(
    node: Node, people: Callable[..., list[Person]]
) -> None:
    alice, bob, carol, dave = people("alice", "bob", "carol", "dave")
    await init(alice, bob, carol, dave)
    out, _ = await alice.run("group", "create", "friends", "-m", bob.npub, "--member", carol.npub)
    assert re.fullmatch(r"created group 'friends' \([0-9a-f]{16}\) with 3 member devices\n", out)
    for person in (bob, carol):
        assert await person.read() == [("friends", f"* {alice.npub} added you to 'friends'")]

    # Three people, everyone reads everyone.
    for person in (alice, bob, carol):
        out, _ = await person.run("group", "send", "friends", f"hello from {person.name}")
        assert out == "sent to 2 member(s) of 'friends'\n"
    for reader in (alice, bob, carol):
        lines = await reader.read("friends")
        for sender in {alice, bob, carol} - {reader}:
            assert reader.said(lines, sender) == [f"hello from {sender.name}"]
        assert reader.said(lines, reader) == []
        assert await reader.read() == []  # nothing twice

    # Dave joins: he reads what follows, never what came before.
    await bob.run("group", "send", "friends", "before dave")
    before = await group_messages_for(carol, node.ws_url)
    out, _ = await alice.run("group", "add", "friends", dave.npub)
    assert out == f"added {dave.npub} to 'friends' (4 member devices)\n"
    assert await dave.read() == [("friends", f"* {alice.npub} added you to 'friends'")]
    await carol.run("group", "send", "friends", "hi dave")
    await dave.run("group", "send", "friends", "thanks, carol")
    lines = await dave.read()
    assert dave.said(lines, carol) == ["hi dave"] and dave.said(lines, bob) == []
    for person in (alice, bob):
        lines = await person.read()
        assert person.said(lines, dave) == ["thanks, carol"]
        assert (("friends", f"* {dave.npub} joined") in lines) is (person is bob)  # not the admin
    dave_state = dave.store().find("friends").state
    for message in before:  # handed to Dave's own state, the earlier messages do not open
        with pytest.raises(DecryptError):
            dave_state.decrypt(message)

    # Carol is removed: nothing sent afterwards opens with her state.
    await carol.read()
    out, _ = await alice.run("group", "remove", "friends", carol.npub)
    assert out == f"removed {carol.npub} from 'friends'; new epoch 1\n"
    await bob.run("group", "send", "friends", "carol is gone")  # takes in the removal first
    await alice.run("group", "send", "friends", "new keys for all")
    lines = await dave.read()
    assert dave.said(lines, bob) == ["carol is gone"]
    assert dave.said(lines, alice) == ["new keys for all"]
    assert ("friends", f"* {carol.npub} was removed") in lines
    assert alice.said(await alice.read(), bob) == ["carol is gone"]
    carol_lines = await carol.read()
    assert carol_lines == [("friends", "* you were removed from 'friends'")]
    after = [m for m in await group_messages_for(dave, node.ws_url) if m.epoch == 1]
    assert {m.sender.pubkey for m in after} >= {bob.key.public_key, alice.key.public_key}
    carol_chat = carol.store().find("friends")
    assert carol_chat.removed and carol_chat.state.epoch == 0
    for message in after:
        with pytest.raises(MissingSenderKey):
            carol_chat.state.decrypt(message)
    assert "no longer a member" in await carol.fails("group", "send", "friends", "let me in")
    assert all(m.epoch == 0 for m in await group_messages_for(carol, node.ws_url))

    # Only the admin changes members; the listing tells who is who.
    assert "only the admin" in await bob.fails("group", "remove", "friends", dave.npub)
    out, _ = await bob.run("group", "list")
    head, *members = out.splitlines()
    assert re.fullmatch(
        rf"[0-9a-f]{{16}}  friends  3 people, 3 devices, epoch 1, admin {alice.npub}", head
    )
    assert sorted(members) == sorted(f"  {p.npub}" for p in (alice, bob, dave))


async def test_direct_and_group_messages_share_the_pairwise_sessions(
    node: Node, people: Callable[..., list[Person]]
) -> None:
    """Both commands use one Double Ratchet per device pair, each reads only its own kind, and
    reading them in either order loses nothing."""
    alice, bob = people("alice", "bob")
    await init(alice, bob)
    await alice.run("dm", "send", bob.npub, "dm before the group")
    await alice.run("group", "create", "both", "-m", bob.npub)  # a control on the same session
    await alice.run("dm", "send", bob.npub, "dm after the group")
    assert await bob.read() == [("both", f"* {alice.npub} added you to 'both'")]  # group first
    out, err = await bob.run("dm", "read")
    # Both may be stamped in the same second, and `dm read` orders by the second only.
    assert err == "" and sorted(line.split(": ", 1)[1] for line in out.splitlines()) == [
        "dm after the group",
        "dm before the group",
    ]
    await bob.run("dm", "send", alice.npub, "dm reply")  # Bob answers on the session
    await bob.run("group", "send", "both", "group reply")
    out, err = await alice.run("dm", "read")  # DMs first this time
    assert err == "" and out.splitlines()[-1].endswith(": dm reply")
    assert alice.said(await alice.read(), bob) == ["group reply"]


async def test_bad_group_messages_are_reported_and_change_nothing(
    node: Node, people: Callable[..., list[Person]]
) -> None:
    alice, bob = people("alice", "bob")
    await init(alice, bob)
    await alice.run("group", "create", "pair", "-m", bob.npub)
    await bob.read()
    await alice.run("group", "send", "pair", "genuine")
    assert bob.said(await bob.read(), alice) == ["genuine"]
    (message,) = await group_messages_for(bob, node.ws_url)
    data = message.to_bytes()
    flipped = bytearray(data)
    flipped[90] ^= 0x40
    bad = [bytes(flipped), data[:-20], data[:50], b"\x44" + data[1:], data]
    async with connect(node.ws_url) as client:
        for content in [*(base64.b64encode(d).decode() for d in bad), "@@"]:
            broadcast = Broadcast(message.group_id, (bob.key.public_key,), content)
            await _publish_group_rumor(client, alice, bob, broadcast)
    before = bob.store().find("pair").state.to_bytes()
    out, err = await bob.run("group", "read")
    assert out == ""
    warnings = err.splitlines()
    assert len(warnings) == 6 and all(w.startswith("koinon: warning: ") for w in warnings)
    joined = "\n".join(warnings)
    assert joined.count("signature does not verify") == 2  # tampered, truncated
    for needle in (
        "too short",
        "unknown group message version 0x44",
        "not base64",
        "already used",  # the genuine message again
    ):
        assert needle in joined, (needle, joined)
    chat = bob.store().find("pair")
    assert chat.state.to_bytes() == before and chat.waiting == []

    # An authentic message of an unknown payload version (only Alice's own state can make one)
    # is reported; it used up its key, and what follows still reads.
    alice_ctx = groupsync.open_context(argparse.Namespace(home=str(alice.home)))
    future = alice_ctx.store.find("pair").state.encrypt(b'{"v":7,"text":"from the future"}')
    alice_ctx.save()
    async with connect(node.ws_url) as client:
        content = group_message.message_content(future)
        broadcast = Broadcast(message.group_id, (bob.key.public_key,), content)
        await _publish_group_rumor(client, alice, bob, broadcast)
    out, err = await bob.run("group", "read")
    assert out == "" and len(err.splitlines()) == 1
    assert "unknown group message payload version 7" in err
    await alice.run("group", "send", "pair", "still fine")
    assert bob.said(await bob.read(), alice) == ["still fine"]


async def _publish_group_rumor(
    client: WsClient, sender: Person, to: Person, broadcast: Broadcast
) -> None:
    """What a member (or anyone with the sender's key) could put on the relay for `to`."""
    now = int(time.time())
    rumor = group_message.message_rumor(sender.key.public_key, broadcast.content, now)
    wrap = wrap_rumor(rumor, sender.key.raw, to.key.public_key, now=now, random_bytes=os.urandom)
    accepted, reason = await client.publish(wrap)
    assert accepted, reason


async def test_group_commands_never_print_or_log_secrets(
    node: Node, people: Callable[..., list[Person]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice, bob, carol = people("alice", "bob", "carol")
    await init(alice, bob, carol)
    printed = []
    for person, argv in [
        (alice, ("group", "create", "secrets", "-m", bob.npub, "-m", carol.npub)),
        (bob, ("group", "read")),
        (carol, ("group", "read")),
        (bob, ("group", "send", "secrets", "top secret marker")),
        (alice, ("group", "read", "secrets")),
        (alice, ("group", "remove", "secrets", carol.npub)),
        (bob, ("group", "send", "secrets", "second marker")),
        (carol, ("group", "read")),
        (alice, ("group", "read")),
        (alice, ("group", "list")),
        (bob, ("group", "list")),
    ]:
        out, err = await person.run(*argv)
        printed += [out, err]
    printed += [record.getMessage() for record in caplog.records]
    text = "\n".join(printed)
    secrets: set[str] = set()
    for person in (alice, bob, carol):
        secrets |= {person.key.hex, person.key.nsec, PASSPHRASE}
        store = person.store()
        for chat in store.groups.values():
            distribution = chat.state.distribution()
            state_bytes = chat.state.to_bytes()
            for window in range(0, len(state_bytes) - 32, 8):  # every secret in the state
                piece = state_bytes[window : window + 32]
                secrets |= {piece.hex(), base64.b64encode(piece).decode()}
            secrets |= {
                distribution.chain_key.hex(),
                base64.b64encode(distribution.chain_key).decode(),
            }
    assert [secret for secret in secrets if secret in text] == []
    # At rest: sealed, private, nothing readable.
    for person in (alice, bob, carol):
        for path in (person.home / "group").iterdir():
            data = path.read_bytes()
            assert b"marker" not in data and b"secrets" not in data
            assert not re.search(rb"[0-9a-f]{64}", data)
            assert os.stat(path).st_mode & 0o077 == 0


async def test_errors_are_one_line_from_the_executable(
    node: Node, people: Callable[..., list[Person]]
) -> None:
    (alice,) = people("alice")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOINON_")}
    env |= {"KOINON_PASSPHRASE": PASSPHRASE, "KOINON_HOME": str(alice.home)}
    env["KOINON_RELAY"] = node.ws_url

    async def koinon(*argv: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "koinon.cli.main",
            *argv,
            env=env,
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode is not None
        return proc.returncode, err.decode()

    status, err = await koinon("group", "list")
    assert status == 1 and err.strip().splitlines() == [err.strip()]
    assert err.startswith("koinon: error: ") and "dm init" in err
    await alice.run("dm", "init")
    status, err = await koinon("group", "send", "nosuch", "hello")
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith("koinon: error: no group called 'nosuch'")
