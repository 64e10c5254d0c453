"""`koinon dm`, run as real subprocesses against the session's node: forward-secret direct
messages between Alice and Bob (X3DH + Double Ratchet inside gift wraps), with Eve reading nothing,
state sealed at rest, and one-line errors.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest

from koinon.core.event import parse_event, sign_event
from koinon.core.keys import SecretKey
from koinon.messaging import dm
from koinon.sessions.errors import BundleError, DecryptError
from koinon.sessions.prekeys import PrekeyBundle
from tests.cli.cli_devices import Device, initialised, with_key

pytestmark = pytest.mark.timeout(300)  # many CLI processes a test: a safety net, not a speed check


@pytest.fixture(scope="module")
def people(relay_url: str) -> Iterator[dict[str, Device]]:
    with tempfile.TemporaryDirectory(prefix="koinon-dm-") as root:
        with ThreadPoolExecutor(3) as pool:
            users = list(
                pool.map(
                    lambda n: initialised(with_key(n, Path(root), relay_url)),
                    ["alice", "bob", "eve"],
                )
            )
        yield {u.name: u for u in users}


def texts(lines: list[tuple[str, str | None, str]], sender: Device) -> list[str]:
    """The texts `dm read` printed from `sender`."""
    return [text for npub, _, text in lines if npub == sender.npub]


def test_init_publishes_a_bundle_signed_by_the_user(people: dict[str, Device]) -> None:
    alice = people["alice"]
    out = alice.ok("req", f'{{"kinds":[{dm.BUNDLE_KIND}],"authors":["{alice.hex}"]}}')
    (line,) = out.splitlines()
    assert '"d"' in line
    device, bundle = dm.parse_bundle_event(parse_event(orjson.loads(line)))
    assert isinstance(bundle, PrekeyBundle) and bundle.identity == alice.hex
    assert len(bundle.one_time_prekeys) == 20 and device


def test_conversation_both_ways(people: dict[str, Device]) -> None:
    alice, bob, eve = people["alice"], people["bob"], people["eve"]
    alice.ok("dm", "send", bob.npub, "hello Bob, it is Alice")
    assert texts(bob.read(), alice) == ["hello Bob, it is Alice"]
    assert bob.read() == []  # nothing new, and no replayed decryption error

    bob.ok("dm", "send", alice.npub, "hi Alice!")
    assert texts(alice.read(), bob) == ["hi Alice!"]

    for i in range(3):
        alice.ok("dm", "send", bob.hex, f"alice {i}")
    bob.ok("dm", "send", alice.npub, "bob 1")
    bob.ok("dm", "send", alice.npub, "bob 2")
    assert sorted(texts(bob.read(), alice)) == ["alice 0", "alice 1", "alice 2"]
    assert sorted(texts(alice.read(), bob)) == ["bob 1", "bob 2"]
    assert alice.read() == [] and bob.read() == []

    assert eve.read() == []
    for user in (alice, bob, eve):
        result = user.run("dm", "read")
        assert result.returncode == 0 and result.stderr == "", result.stderr


def test_state_is_sealed_at_rest(people: dict[str, Device]) -> None:
    alice, bob = people["alice"], people["bob"]
    alice.ok("dm", "send", bob.npub, "secret-marker-text")
    bob.read()
    for user in (alice, bob):
        files = [p for p in (user.home / "dm").iterdir() if p.is_file()]
        assert files
        for path in files:
            data = path.read_bytes()
            assert b"secret-marker-text" not in data and b"hello Bob" not in data
            assert not re.search(rb"[0-9a-f]{64}", data), path
            assert os.stat(path).st_mode & 0o077 == 0


def test_wrong_passphrase_is_one_line(people: dict[str, Device]) -> None:
    result = people["alice"].run("dm", "read", passphrase="not the passphrase")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("koinon: error: ")


def test_sending_to_someone_without_a_bundle_fails_cleanly(
    people: dict[str, Device], tmp_path: Path
) -> None:
    stranger = Device("stranger", tmp_path / "stranger", people["alice"].relay)
    out = stranger.ok("key", "new")
    npub = re.search(r"npub1\w+", out)
    assert npub
    result = people["alice"].run("dm", "send", npub.group(0), "anyone there?")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("koinon: error: ")
    assert "no prekey bundle" in lines[0]


def test_send_without_init_fails_cleanly(people: dict[str, Device], tmp_path: Path) -> None:
    lone = Device("lone", tmp_path / "lone", people["alice"].relay)
    lone.ok("key", "new")
    result = lone.run("dm", "send", people["bob"].npub, "hi")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        next(x for x in result.stderr.splitlines() if x.startswith("koinon: error: "))
    ]
    assert "dm init" in result.stderr


# -- the pure layer, in process ---------------------------------------------------------------


class _Party:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed).randbytes
        self.key = SecretKey(self.random(32))
        self.me = self.key.public_key
        self.device = dm.LocalDevice.generate(f"dev{seed}", 3, self.random)
        self.sessions = dm.DeviceSessions(self.random)

    def bundle(self) -> PrekeyBundle:
        return self.device.bundle(self.key.raw, self.random)

    def send(self, peer: _Party, text: str) -> Any:
        identity = self.device.identity(self.key.raw)
        content = dm.encrypt_for(
            self.sessions, identity, peer.device.device_id, peer.bundle(), text, self.random
        )
        return dm.session_rumor(
            self.me, peer.me, peer.device.device_id, self.device.device_id, content, 1
        )

    def receive(self, rumor: Any) -> str:
        return dm.decrypt_from(
            self.sessions, self.device, self.key.raw, rumor.pubkey, rumor, self.random
        )


def test_pure_sessions_survive_reordering_races_and_replays() -> None:
    alice, bob = _Party(1), _Party(2)
    first, second = alice.send(bob, "one"), alice.send(bob, "two")
    assert bob.receive(second) == "two" and bob.receive(first) == "one"  # both carry the header
    assert len(bob.device.one_time) == 2  # the one-time prekey was consumed exactly once
    with pytest.raises(DecryptError):
        bob.receive(first)  # a replay
    assert len(bob.device.one_time) == 2
    assert alice.receive(bob.send(alice, "three")) == "three"

    # Both initiate at once: the next messages settle on one session.
    carol, dave = _Party(3), _Party(4)
    to_dave, to_carol = carol.send(dave, "c1"), dave.send(carol, "d1")
    assert dave.receive(to_dave) == "c1" and carol.receive(to_carol) == "d1"
    for i in range(3):
        assert carol.receive(dave.send(carol, f"d{i}")) == f"d{i}"
        assert dave.receive(carol.send(dave, f"c{i}")) == f"c{i}"

    # State round-trips through bytes.
    restored = dm.DeviceSessions.from_bytes(alice.sessions.to_bytes(), alice.random)
    alice.sessions = restored
    assert bob.receive(alice.send(bob, "after restore")) == "after restore"
    device = dm.LocalDevice.from_json(orjson.loads(orjson.dumps(bob.device.to_json())))
    assert device.one_time.publics() == bob.device.one_time.publics()


def test_bundle_event_must_be_signed_by_its_identity() -> None:
    alice, mallory = _Party(5), _Party(6)
    kind, content, tags = dm.bundle_event_template("phone", alice.bundle())
    good = sign_event(
        alice.key.raw, kind=kind, content=content, tags=tags, created_at=1, aux_rand=bytes(32)
    )
    assert dm.parse_bundle_event(good)[0] == "phone"
    forged = sign_event(
        mallory.key.raw, kind=kind, content=content, tags=tags, created_at=1, aux_rand=bytes(32)
    )
    with pytest.raises(BundleError):
        dm.parse_bundle_event(forged)
