"""`koinon dm` against a real in-process node when two people start a session with the same
one-time prekey (Bob's bundle lists only one): both sessions open, and Bob's device keeps the
consumed key, sealed, with the time its replacement bundle was published."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from koinon.cli import dmcmd
from koinon.core.keys import npub
from koinon.node import Node
from tests.cli.dm_people import Person, make_people


@pytest.fixture
def people(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> list[Person]:
    return make_people(node, tmp_path, monkeypatch, capsys, 4400)


async def test_two_senders_sharing_bobs_only_one_time_prekey_both_get_through(
    people: list[Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob, carol = people
    for person in (alice, carol):
        await person.run("dm", "init")
    with monkeypatch.context() as patch:
        patch.setattr(dmcmd, "ONE_TIME_PREKEYS", 1)
        await bob.run("dm", "init")
    (prekey_id,) = bob.state().device.one_time.keys

    bob_npub = npub(bob.key.public_key)
    await alice.run("dm", "send", bob_npub, "from alice")
    await carol.run("dm", "send", bob_npub, "from carol")
    before = int(time.time())
    out = await bob.run("dm", "read")
    assert sorted(line.rsplit(": ", 1)[1] for line in out.splitlines()) == [
        "from alice",
        "from carol",
    ]
    consumed = bob.state().device.consumed.entries
    assert set(consumed) == {prekey_id}  # kept after Bob's device republished its bundle
    replaced_at = consumed[prekey_id].replaced_at
    assert replaced_at is not None and replaced_at >= before

    for person, text in ((alice, "to alice"), (carol, "to carol")):
        await bob.run("dm", "send", npub(person.key.public_key), text)
        assert (await person.run("dm", "read")).endswith(f": {text}\n")
        await person.run("dm", "send", bob_npub, f"{text}, answered")
    out = await bob.run("dm", "read")
    assert sorted(line.rsplit(": ", 1)[1] for line in out.splitlines()) == [
        "to alice, answered",
        "to carol, answered",
    ]
