"""NIP-44 v2 properties: round trips, the extended length prefix, junk and tampered payloads."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.errors import Reason, Rejected
from koinon.messaging import nip44
from tests.messaging.parties import ALICE, BOB, CAROL

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None)
CONV_KEY = nip44.conversation_key(ALICE.raw, BOB.public_key)
NONCE = bytes(range(32))


def _fits(text: str) -> bool:
    return 1 <= len(text.encode("utf-8")) <= nip44.MAX_PLAINTEXT_SIZE


# Short texts of any characters, and long runs up to the 65,535-byte limit.
PLAINTEXTS = st.one_of(
    st.text(min_size=1, max_size=300).filter(_fits),
    st.builds(
        lambda ch, n: ch * min(n, nip44.MAX_PLAINTEXT_SIZE // len(ch.encode("utf-8"))),
        st.characters(blacklist_categories=["Cs"]),
        st.integers(1, nip44.MAX_PLAINTEXT_SIZE),
    ),
)


@PROPERTY
@given(plaintext=PLAINTEXTS, nonce=st.binary(min_size=32, max_size=32))
def test_round_trip(plaintext: str, nonce: bytes) -> None:
    payload = nip44.encrypt(plaintext, CONV_KEY, nonce)
    assert nip44.decrypt(payload, CONV_KEY) == plaintext
    padded_len = nip44.calc_padded_len(len(plaintext.encode("utf-8")))
    assert len(base64.b64decode(payload)) == 1 + 32 + 2 + padded_len + 32


def test_conversation_key_is_symmetric() -> None:
    assert nip44.conversation_key(BOB.raw, ALICE.public_key) == CONV_KEY


def test_largest_message_round_trips_and_one_more_byte_is_refused() -> None:
    text = "é" * (nip44.MAX_PLAINTEXT_SIZE // 2) + "x"
    assert nip44.decrypt(nip44.encrypt(text, CONV_KEY, NONCE), CONV_KEY) == text
    with pytest.raises(Rejected):
        nip44.encrypt(text + "x", CONV_KEY, NONCE)


def _extended_padded(plaintext: bytes) -> bytes:
    size = len(plaintext)
    zeros = bytes(nip44.calc_padded_len(size) - size)
    return b"\x00\x00" + size.to_bytes(4, "big") + plaintext + zeros


@pytest.mark.parametrize("size", [65_536, 70_000, 131_073])
def test_decrypt_accepts_extended_length_prefix(size: int) -> None:
    plaintext = bytes(ord("a") + i % 26 for i in range(size))
    payload = nip44.encrypt_padded(_extended_padded(plaintext), CONV_KEY, NONCE)
    assert nip44.decrypt(payload, CONV_KEY) == plaintext.decode()


@pytest.mark.parametrize(
    "padded",
    [
        # the extended prefix may only describe lengths of 65,536 bytes and more
        b"\x00\x00" + (100).to_bytes(4, "big") + b"a" * 100 + bytes(28 + 2),
        # length says more than is there
        b"\x00\x00" + (70_000).to_bytes(4, "big") + b"a" * 100,
        # right length, padding one byte short
        _extended_padded(b"a" * 70_000)[:-1],
        # both prefixes zero
        bytes(38),
    ],
    ids=["extended-too-small", "extended-truncated", "extended-short-padding", "zero-length"],
)
def test_decrypt_rejects_bad_extended_prefix(padded: bytes) -> None:
    payload = nip44.encrypt_padded(padded, CONV_KEY, NONCE)
    with pytest.raises(Rejected, match="invalid padding"):
        nip44.decrypt(payload, CONV_KEY)


def test_pad_and_unpad() -> None:
    assert nip44.pad(b"a") == b"\x00\x01a" + bytes(31)
    assert nip44.unpad(nip44.pad(b"hello")) == b"hello"
    with pytest.raises(Rejected):
        nip44.pad(b"")
    with pytest.raises(Rejected):
        nip44.unpad(b"\x00")


def test_invalid_key_and_nonce_sizes_are_rejected() -> None:
    with pytest.raises(Rejected):
        nip44.encrypt("hi", CONV_KEY[:31], NONCE)
    with pytest.raises(Rejected):
        nip44.encrypt("hi", CONV_KEY, NONCE[:16])
    with pytest.raises(Rejected):
        nip44.conversation_key(ALICE.raw, BOB.public_key.upper())
    with pytest.raises(Rejected):
        nip44.encrypt("\ud800", CONV_KEY, NONCE)  # a lone surrogate is not encodable


def _data_strategy() -> st.SearchStrategy[str]:
    """Payload-shaped junk: version 2 and right sizes, random bytes elsewhere."""
    return st.builds(
        lambda body: base64.b64encode(b"\x02" + body).decode(),
        st.binary(min_size=98, max_size=400),
    )


@PROPERTY
@given(payload=st.one_of(st.text(max_size=400), _data_strategy()))
def test_junk_payloads_raise_only_rejected(payload: str) -> None:
    with pytest.raises(Rejected) as info:
        nip44.decrypt(payload, CONV_KEY)
    assert info.value.reason is Reason.INVALID


@PROPERTY
@given(
    plaintext=st.text(min_size=1, max_size=200).filter(_fits),
    data=st.data(),
)
def test_any_altered_byte_is_rejected(plaintext: str, data: st.DataObject) -> None:
    raw = bytearray(base64.b64decode(nip44.encrypt(plaintext, CONV_KEY, NONCE)))
    position = data.draw(st.integers(0, len(raw) - 1), label="position")
    raw[position] ^= data.draw(st.integers(1, 255), label="xor")
    # A changed version byte is refused as such; any other change breaks the MAC.
    expected = "unknown encryption version" if position == 0 else "invalid MAC"
    with pytest.raises(Rejected, match=expected):
        nip44.decrypt(base64.b64encode(raw).decode(), CONV_KEY)


@PROPERTY
@given(plaintext=st.text(min_size=1, max_size=200).filter(_fits), cut=st.integers(1, 40))
def test_truncated_or_extended_payloads_are_rejected(plaintext: str, cut: int) -> None:
    raw = base64.b64decode(nip44.encrypt(plaintext, CONV_KEY, NONCE))
    for altered in (raw[:-cut], raw + bytes(cut)):
        with pytest.raises(Rejected):
            nip44.decrypt(base64.b64encode(altered).decode(), CONV_KEY)


def test_payload_for_someone_else_fails_the_mac() -> None:
    payload = nip44.encrypt("secret", CONV_KEY, NONCE)
    other = nip44.conversation_key(ALICE.raw, CAROL.public_key)
    with pytest.raises(Rejected, match="invalid MAC"):
        nip44.decrypt(payload, other)
