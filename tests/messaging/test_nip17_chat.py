"""NIP-17 direct messages: chat and file rumors, one wrap per participant, inbox relay lists."""

from __future__ import annotations

import pytest

from koinon.core.event import verify_event
from koinon.core.keys import RandomBytes
from koinon.errors import Rejected
from koinon.messaging.chat import (
    CHAT_KIND,
    FILE_KIND,
    INBOX_RELAYS_KIND,
    FileAttachment,
    inbox_relays,
    inbox_relays_event,
    wrap_file,
    wrap_message,
)
from koinon.messaging.giftwrap import unwrap
from tests.messaging.parties import ALICE, BOB, CAROL, MALLORY, NOW

REPLY_TO = "ab" * 32


def test_group_message_reaches_every_participant_and_the_sender(random_bytes: RandomBytes) -> None:
    recipients = [BOB.public_key, CAROL.public_key]
    wraps = wrap_message(
        ALICE.raw, recipients, "lunch?", NOW, random_bytes, reply_to=REPLY_TO, subject="plans"
    )
    assert [w.first_tag("p") for w in wraps] == [*recipients, ALICE.public_key]
    rumors = []
    for wrap, reader in zip(wraps, (BOB, CAROL, ALICE), strict=True):
        verify_event(wrap)
        opened = unwrap(wrap, reader.raw)
        assert opened.sender == ALICE.public_key
        rumors.append(opened.rumor)
        with pytest.raises(Rejected):
            unwrap(wrap, MALLORY.raw)
    rumor = rumors[0]
    assert all(r == rumor for r in rumors)  # every copy carries the same rumor and id
    assert rumor.kind == CHAT_KIND
    assert rumor.created_at == NOW  # the real time lives only inside the encryption
    assert rumor.content == "lunch?"
    assert rumor.tags == (
        ("p", BOB.public_key),
        ("p", CAROL.public_key),
        ("e", REPLY_TO, "", "reply"),
        ("subject", "plans"),
    )


def test_duplicate_recipients_and_self_get_one_copy(random_bytes: RandomBytes) -> None:
    wraps = wrap_message(
        ALICE.raw, [BOB.public_key, BOB.public_key, ALICE.public_key], "hi", NOW, random_bytes
    )
    assert [w.first_tag("p") for w in wraps] == [BOB.public_key, ALICE.public_key]


@pytest.mark.parametrize(
    ("recipients", "reply_to"),
    [([], None), (["npub1xyz"], None), ([BOB.public_key.upper()], None), ([BOB.public_key], "x")],
    ids=["no-recipients", "npub", "uppercase", "bad-reply-id"],
)
def test_bad_message_input_is_rejected(
    recipients: list[str], reply_to: str | None, random_bytes: RandomBytes
) -> None:
    with pytest.raises(Rejected):
        wrap_message(ALICE.raw, recipients, "hi", NOW, random_bytes, reply_to=reply_to)


def test_bad_sender_key_and_oversized_message_are_rejected(random_bytes: RandomBytes) -> None:
    with pytest.raises(Rejected):
        wrap_message(bytes(32), [BOB.public_key], "hi", NOW, random_bytes)
    with pytest.raises(Rejected):  # the doubly encrypted seal no longer fits in 65,535 bytes
        wrap_message(ALICE.raw, [BOB.public_key], "x" * 50_000, NOW, random_bytes)


def test_file_message(random_bytes: RandomBytes) -> None:
    attachment = FileAttachment(
        url="https://files.example/abc",
        file_type="image/jpeg",
        encryption_algorithm="aes-gcm",
        decryption_key="k" * 32,
        decryption_nonce="n" * 24,
        sha256="cd" * 32,
        size=1234,
        dim="640x480",
        fallbacks=("https://mirror.example/abc",),
    )
    wraps = wrap_file(ALICE.raw, [BOB.public_key], attachment, NOW, random_bytes)
    assert len(wraps) == 2
    rumor = unwrap(wraps[0], BOB.raw).rumor
    assert rumor.kind == FILE_KIND
    assert rumor.content == attachment.url
    assert rumor.tags == (
        ("p", BOB.public_key),
        ("file-type", "image/jpeg"),
        ("encryption-algorithm", "aes-gcm"),
        ("decryption-key", "k" * 32),
        ("decryption-nonce", "n" * 24),
        ("x", "cd" * 32),
        ("size", "1234"),
        ("dim", "640x480"),
        ("fallback", "https://mirror.example/abc"),
    )


def test_inbox_relay_list() -> None:
    relays = ["wss://inbox.example", "ws://127.0.0.1:7447", "wss://inbox.example"]
    event = inbox_relays_event(ALICE.raw, relays, created_at=NOW, aux_rand=bytes(32))
    verify_event(event)
    assert event.kind == INBOX_RELAYS_KIND
    assert event.content == ""
    assert event.tags == (("relay", "wss://inbox.example"), ("relay", "ws://127.0.0.1:7447"))
    assert inbox_relays(event) == ["wss://inbox.example", "ws://127.0.0.1:7447"]


@pytest.mark.parametrize("relays", [[], ["https://x.example"], ["wss://"]])
def test_inbox_relay_list_rejects_bad_urls(relays: list[str]) -> None:
    with pytest.raises(Rejected):
        inbox_relays_event(ALICE.raw, relays, created_at=NOW, aux_rand=bytes(32))
