"""`koinon dm read` against a real in-process node when Bob's signed prekey is a week old: it
rotates it and republishes the bundle, the old one still answers, and a read after the grace
(dmcmd's clock moved on) deletes it with the ephemerals seen on it, while open sessions go on."""

from __future__ import annotations

import dataclasses
import time
import types
from pathlib import Path

import pytest

from koinon.cli import dmcmd
from koinon.core.keys import npub
from koinon.messaging.signed_prekeys import SIGNED_PREKEY_GRACE, SIGNED_PREKEY_ROTATION
from koinon.node import Node
from tests.cli.dm_people import Person, make_people


@pytest.fixture
def people(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> list[Person]:
    return make_people(node, tmp_path, monkeypatch, capsys, 4500)


def age_signed_prekey(person: Person) -> None:
    """Make the person's signed prekey a week old, as if `dm init` ran a week ago."""
    state = person.state()
    spk = state.device.signed.entries[1]
    aged = dataclasses.replace(spk, created_at=int(time.time()) - SIGNED_PREKEY_ROTATION)
    state.device.signed = dataclasses.replace(state.device.signed, entries={1: aged})
    person.save(state)


async def test_dm_read_rotates_a_week_old_signed_prekey_and_deletes_it_after_the_grace(
    people: list[Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob, carol = people
    for person in people:
        await person.run("dm", "init")
    age_signed_prekey(bob)

    bob_npub = npub(bob.key.public_key)
    await alice.run("dm", "send", bob_npub, "on the old key")
    before = int(time.time())
    assert await bob.texts("dm", "read") == ["on the old key"]
    signed = bob.state().device.signed
    assert signed.current == 2 and set(signed.entries) == {1, 2}  # republished, old one kept
    replaced_at = signed.entries[1].replaced_at
    assert replaced_at is not None and replaced_at >= before
    assert len(signed.entries[1].ephemerals) == 1 and not signed.entries[2].ephemerals

    await carol.run("dm", "send", bob_npub, "on the new key")  # reads the new bundle
    assert await bob.texts("dm", "read") == ["on the new key"]
    assert len(bob.state().device.signed.entries[2].ephemerals) == 1

    later = replaced_at + SIGNED_PREKEY_GRACE
    with monkeypatch.context() as patch:
        patch.setattr(dmcmd, "time", types.SimpleNamespace(time=lambda: later))
        assert await bob.texts("dm", "read") == []
    signed = bob.state().device.signed
    assert set(signed.entries) == {2} and len(signed.entries[2].ephemerals) == 1

    # Alice's session started on signed prekey 1 and goes on without it.
    await alice.run("dm", "send", bob_npub, "still here")
    assert await bob.texts("dm", "read") == ["still here"]
    await bob.run("dm", "send", npub(alice.key.public_key), "hello again")
    assert await alice.texts("dm", "read") == ["hello again"]


async def test_a_group_welcome_on_the_old_signed_prekey_outlives_the_grace_of_dm_reads(
    people: list[Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dm read` leaves group controls to `group read`; a handshake among them keeps the signed
    prekey it names past the grace until `group read` has taken it in."""
    alice, bob, _ = people
    for person in (alice, bob):
        await person.run("dm", "init")
    age_signed_prekey(bob)

    await alice.run("group", "create", "club", "-m", npub(bob.key.public_key))  # on prekey 1
    assert await bob.texts("dm", "read") == []  # rotates, and leaves the welcome for group read
    device = bob.state().device
    assert device.signed.current == 2 and len(device.waiting) == 1
    replaced_at = device.signed.entries[1].replaced_at
    assert replaced_at is not None

    later = types.SimpleNamespace(time=lambda: replaced_at + SIGNED_PREKEY_GRACE)
    with monkeypatch.context() as patch:
        patch.setattr(dmcmd, "time", later)
        assert await bob.texts("dm", "read") == []
    assert set(bob.state().device.signed.entries) == {1, 2}  # the welcome still waits
    lines = await bob.texts("group", "read")  # now: its grace is not over, so nothing goes
    assert any("added you to 'club'" in line for line in lines), lines
    assert len(bob.state().device.waiting) == 0  # answered
    with monkeypatch.context() as patch:
        patch.setattr(dmcmd, "time", later)
        assert await bob.texts("dm", "read") == []
    assert set(bob.state().device.signed.entries) == {2}


async def test_dm_send_rotates_a_week_old_signed_prekey(people: list[Person]) -> None:
    """A device that only sends still rotates, and its messages read as before."""
    alice, bob, _ = people
    for person in (alice, bob):
        await person.run("dm", "init")
    age_signed_prekey(bob)
    await bob.run("dm", "send", npub(alice.key.public_key), "sent on rotation day")
    signed = bob.state().device.signed
    assert signed.current == 2 and signed.entries[1].replaced_at is not None
    assert await alice.texts("dm", "read") == ["sent on rotation day"]
    await alice.run("dm", "send", npub(bob.key.public_key), "answer")
    assert await bob.texts("dm", "read") == ["answer"]
