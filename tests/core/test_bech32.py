"""NIP-19 bech32 entities and the key helpers built on them."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core import bech32, schnorr
from koinon.core.keys import SecretKey, npub, parse_event_id, parse_public_key
from koinon.errors import Reason, Rejected

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None)

NPUB = "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg"
NPUB_HEX = "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e"
NSEC = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5"
NSEC_HEX = "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa"
NPROFILE = (
    "nprofile1qqsrhuxx8l9ex335q7he0f09aej04zpazpl0ne2cgukyawd24mayt8gpp4mhxue69uhhytnc9e3k7mg"
    "pz4mhxue69uhkg6nzv9ejuumpv34kytnrdaksjlyr9p"
)
NPROFILE_HEX = "3bf0c63fcb93463407af97a5e5ee64fa883d107ef9e558472c4eb9aaaefa459d"
NPROFILE_RELAYS = ("wss://r.x.com", "wss://djbas.sadkb.com")

hex32 = st.binary(min_size=32, max_size=32).map(bytes.hex)
relay_urls = st.text(max_size=40).map(lambda s: "wss://" + s)
relay_lists = st.lists(relay_urls, max_size=4).map(tuple)


def assert_invalid(text: str) -> None:
    with pytest.raises(Rejected) as info:
        bech32.decode_entity(text)
    assert info.value.reason is Reason.INVALID


# -- NIP-19 vectors ------------------------------------------------------------------------------


def test_npub_vector() -> None:
    assert bech32.decode_entity(NPUB) == bech32.Pointer("npub", NPUB_HEX)
    assert bech32.encode_simple("npub", NPUB_HEX) == NPUB
    assert npub(NPUB_HEX) == NPUB
    assert parse_public_key(NPUB) == NPUB_HEX


def test_nsec_vector() -> None:
    assert bech32.decode_entity(NSEC) == bech32.Pointer("nsec", NSEC_HEX)
    assert bech32.encode_simple("nsec", NSEC_HEX) == NSEC
    key = SecretKey.parse(NSEC)
    assert key.hex == NSEC_HEX
    assert key.nsec == NSEC
    # The two vectors are one key pair.
    assert key.public_key == NPUB_HEX


def test_nprofile_vector() -> None:
    pointer = bech32.decode_entity(NPROFILE)
    assert pointer.kind_name == "nprofile"
    assert pointer.value == NPROFILE_HEX
    assert pointer.relays == NPROFILE_RELAYS
    assert bech32.encode_nprofile(NPROFILE_HEX, NPROFILE_RELAYS) == NPROFILE
    assert parse_public_key(NPROFILE) == NPROFILE_HEX


def test_nostr_uri_prefix_and_uppercase_are_accepted() -> None:
    assert bech32.decode_entity("nostr:" + NPUB).value == NPUB_HEX
    assert bech32.decode_entity(NPUB.upper()).value == NPUB_HEX


# -- round trips ---------------------------------------------------------------------------------


@PROPERTY
@given(value=hex32, hrp=st.sampled_from(["npub", "nsec", "note"]))
def test_simple_round_trip(value: str, hrp: str) -> None:
    text = bech32.encode_simple(hrp, value)
    assert text.startswith(hrp + "1")
    assert bech32.decode_entity(text) == bech32.Pointer(hrp, value)


@PROPERTY
@given(
    event_id=hex32,
    relays=relay_lists,
    author=st.none() | hex32,
    kind=st.none() | st.integers(min_value=0, max_value=2**32 - 1),
)
def test_nevent_round_trip(
    event_id: str, relays: tuple[str, ...], author: str | None, kind: int | None
) -> None:
    text = bech32.encode_nevent(event_id, relays, author, kind)
    assert bech32.decode_entity(text) == bech32.Pointer("nevent", event_id, relays, author, kind)
    assert parse_event_id(text) == event_id
    assert parse_event_id("nostr:" + text) == event_id


@PROPERTY
@given(pubkey=hex32, relays=relay_lists)
def test_nprofile_round_trip(pubkey: str, relays: tuple[str, ...]) -> None:
    text = bech32.encode_nprofile(pubkey, relays)
    assert bech32.decode_entity(text) == bech32.Pointer("nprofile", pubkey, relays)
    assert parse_public_key(text) == pubkey


@PROPERTY
@given(
    identifier=st.text(max_size=60),
    author=hex32,
    kind=st.integers(min_value=0, max_value=2**32 - 1),
    relays=relay_lists,
)
def test_naddr_round_trip(identifier: str, author: str, kind: int, relays: tuple[str, ...]) -> None:
    text = bech32.encode_naddr(identifier, author, kind, relays)
    assert bech32.decode_entity(text) == bech32.Pointer("naddr", identifier, relays, author, kind)


@PROPERTY
@given(
    hrp=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10), data=st.binary()
)
def test_raw_bech32_round_trip(hrp: str, data: bytes) -> None:
    assert bech32.decode(bech32.encode(hrp, data)) == (hrp, data)


@PROPERTY
@given(text=st.text(max_size=120))
def test_decode_entity_of_junk_raises_only_rejected(text: str) -> None:
    try:
        bech32.decode_entity(text)
    except Rejected as rejected:
        assert rejected.reason is Reason.INVALID


@PROPERTY
@given(position=st.integers(min_value=5), char=st.sampled_from("qpzry9x8gf2tvdw0s3jn54khce6mua7l"))
def test_any_single_substitution_breaks_the_checksum(position: int, char: str) -> None:
    position %= len(NPROFILE)
    if position < len("nprofile1") or NPROFILE[position] == char:
        return
    assert_invalid(NPROFILE[:position] + char + NPROFILE[position + 1 :])


# -- failure cases -------------------------------------------------------------------------------


def test_bad_checksum() -> None:
    last = "q" if NPUB[-1] != "q" else "p"
    assert_invalid(NPUB[:-1] + last)


def test_mixed_case() -> None:
    assert_invalid(NPUB[:10] + NPUB[10:].upper())


@pytest.mark.parametrize(
    "text",
    [
        bech32.encode("lnbc", bytes(32)),
        bech32.encode("nrelay", b"wss://r.x.com"),
        bech32.encode("npub", bytes(31)),
        bech32.encode("nsec", bytes(33)),
        bech32.encode("note", b""),
    ],
    ids=["unknown-hrp", "deprecated-nrelay", "npub-31", "nsec-33", "note-empty"],
)
def test_wrong_hrp_or_length(text: str) -> None:
    assert_invalid(text)


@pytest.mark.parametrize(
    "data",
    [
        bytes([0, 32]) + bytes(10),
        bytes([0, 32]) + bytes(32) + bytes([1]),
        bytes([0, 32]) + bytes(32) + bytes([1, 5]) + b"wss",
    ],
    ids=["short-value", "lone-type", "short-relay"],
)
@pytest.mark.parametrize("hrp", ["nprofile", "nevent", "naddr"])
def test_truncated_tlv(hrp: str, data: bytes) -> None:
    assert_invalid(bech32.encode(hrp, data))


@pytest.mark.parametrize(
    ("hrp", "data"),
    [
        ("nprofile", bytes([1, 3]) + b"wss"),
        ("nprofile", bytes([0, 32]) + bytes(32) + bytes([0, 32]) + bytes(32)),
        ("nprofile", bytes([0, 31]) + bytes(31)),
        ("nevent", bytes([0, 32]) + bytes(32) + bytes([2, 31]) + bytes(31)),
        ("nevent", bytes([0, 32]) + bytes(32) + bytes([3, 2]) + bytes(2)),
        ("naddr", bytes([0, 1]) + b"x" + bytes([3, 4]) + bytes(4)),
        ("naddr", bytes([0, 1]) + b"x" + bytes([2, 32]) + bytes(32)),
    ],
    ids=[
        "no-special",
        "two-specials",
        "short-pubkey",
        "short-author",
        "short-kind",
        "naddr-no-author",
        "naddr-no-kind",
    ],
)
def test_bad_tlv_contents(hrp: str, data: bytes) -> None:
    assert_invalid(bech32.encode(hrp, data))


def test_unknown_tlv_types_are_ignored() -> None:
    data = bytes([0, 32]) + bytes.fromhex(NPROFILE_HEX) + bytes([9, 2]) + b"zz"
    assert bech32.decode_entity(bech32.encode("nprofile", data)).value == NPROFILE_HEX


@pytest.mark.parametrize(
    "text",
    ["", "1", "npub1", "npub1qqqqqq", "npub1" + "b" * 58, "x" * 5001, "npub1qqqqqqio"],
    ids=["empty", "separator", "no-data", "all-zero", "bad-char", "too-long", "non-charset"],
)
def test_not_bech32(text: str) -> None:
    assert_invalid(text)


def test_tlv_value_over_255_bytes_cannot_be_encoded() -> None:
    with pytest.raises(Rejected):
        bech32.encode_nprofile(NPROFILE_HEX, ("wss://" + "x" * 250,))


# -- keys ----------------------------------------------------------------------------------------


def test_secret_key_parse_hex_and_nsec() -> None:
    assert SecretKey.parse(NSEC_HEX) == SecretKey.parse(NSEC)
    assert SecretKey.parse(NSEC_HEX.upper()).hex == NSEC_HEX
    assert SecretKey.parse(f"  {NSEC}\n").hex == NSEC_HEX


@pytest.mark.parametrize(
    "text",
    [
        "",
        NPUB,
        NSEC_HEX[:-1],
        "00" * 32,
        schnorr.N.to_bytes(32, "big").hex(),
        bech32.encode_simple("nsec", "00" * 32),
        NSEC[:-1] + ("q" if NSEC[-1] != "q" else "p"),
    ],
    ids=["empty", "npub", "short-hex", "zero", "order", "nsec-zero", "nsec-bad-checksum"],
)
def test_secret_key_parse_rejects(text: str) -> None:
    with pytest.raises(Rejected) as info:
        SecretKey.parse(text)
    assert info.value.reason is Reason.INVALID


def test_secret_key_repr_never_shows_the_secret() -> None:
    key = SecretKey.parse(NSEC)
    for text in (repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})):
        assert NSEC_HEX not in text.lower()
        assert NSEC not in text
        assert NPUB_HEX in text


def test_secret_key_generate_uses_the_given_randomness() -> None:
    first = SecretKey.generate(random.Random(1).randbytes)
    assert first == SecretKey.generate(random.Random(1).randbytes)
    assert first != SecretKey.generate(random.Random(2).randbytes)


def test_secret_key_generate_skips_out_of_range_candidates() -> None:
    candidates = iter([bytes(32), b"\xff" * 32, bytes.fromhex(NSEC_HEX)])
    assert SecretKey.generate(lambda n: next(candidates)).hex == NSEC_HEX


def test_parse_public_key_forms() -> None:
    assert parse_public_key(NPUB_HEX.upper()) == NPUB_HEX
    assert parse_public_key(f" {NPUB} ") == NPUB_HEX
    for bad in ("", NSEC, NPUB_HEX[:-2], bech32.encode_simple("note", NPUB_HEX)):
        with pytest.raises(Rejected):
            parse_public_key(bad)


def test_parse_event_id_forms() -> None:
    note = bech32.encode_simple("note", NPUB_HEX)
    assert parse_event_id(note) == NPUB_HEX
    assert parse_event_id("nostr:" + note) == NPUB_HEX
    assert parse_event_id(NPUB_HEX.upper()) == NPUB_HEX
    for bad in ("", NPUB, "g" * 64):
        with pytest.raises(Rejected):
            parse_event_id(bad)
