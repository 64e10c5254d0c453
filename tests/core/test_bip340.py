"""BIP-340 Schnorr signatures: the published vectors, and the fast path checked against the BIP."""

from __future__ import annotations

import csv
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core import schnorr
from tests.helpers import VECTORS

BIP340_VECTORS = VECTORS / "bip340" / "test-vectors.csv"
# The pure-Python reference takes a few hundred milliseconds per operation: keep examples few.
ORACLE = settings(max_examples=4, deadline=None, derandomize=True, database=None)


def _rows() -> list[dict[str, str]]:
    with BIP340_VECTORS.open(newline="") as handle:
        return list(csv.DictReader(handle))


ROWS = _rows()
IDS = [
    f"vector-{int(r['index']):02d}-{'valid' if r['verification result'] == 'TRUE' else 'invalid'}"
    for r in ROWS
]
SIGNING_ROWS = [r for r in ROWS if r["secret key"]]
SIGNING_IDS = [f"vector-{int(r['index']):02d}-sign" for r in SIGNING_ROWS]


def test_vector_file_has_every_row() -> None:
    assert len(ROWS) == 19
    assert {r["verification result"] for r in ROWS} == {"TRUE", "FALSE"}


@pytest.mark.parametrize("row", ROWS, ids=IDS)
@pytest.mark.parametrize("verify", [schnorr.verify, schnorr.reference_verify], ids=["fast", "ref"])
def test_verify_vector(row: dict[str, str], verify: Callable[[bytes, bytes, bytes], bool]) -> None:
    pubkey = bytes.fromhex(row["public key"])
    message = bytes.fromhex(row["message"])
    signature = bytes.fromhex(row["signature"])
    expected = row["verification result"] == "TRUE"
    assert verify(pubkey, message, signature) is expected


@pytest.mark.parametrize("row", SIGNING_ROWS, ids=SIGNING_IDS)
def test_sign_vector(row: dict[str, str]) -> None:
    secret = bytes.fromhex(row["secret key"])
    message = bytes.fromhex(row["message"])
    aux = bytes.fromhex(row["aux_rand"])
    expected_sig = bytes.fromhex(row["signature"])
    expected_pub = bytes.fromhex(row["public key"])
    assert schnorr.public_key(secret) == expected_pub
    assert schnorr.reference_public_key(secret) == expected_pub
    assert schnorr.sign(secret, message, aux) == expected_sig
    assert schnorr.reference_sign(secret, message, aux) == expected_sig


@pytest.mark.parametrize(
    ("pubkey", "message", "signature"),
    [
        (bytes(31), bytes(32), bytes(64)),
        (bytes(33), bytes(32), bytes(64)),
        (bytes(32), bytes(32), bytes(63)),
        (bytes(32), bytes(32), bytes(65)),
        (b"", b"", b""),
        (b"\xff" * 32, bytes(32), b"\xff" * 64),
    ],
    ids=["short-key", "long-key", "short-sig", "long-sig", "empty", "all-ones"],
)
def test_malformed_inputs_return_false(pubkey: bytes, message: bytes, signature: bytes) -> None:
    assert schnorr.verify(pubkey, message, signature) is False
    assert schnorr.reference_verify(pubkey, message, signature) is False


@pytest.mark.parametrize(
    "secret",
    [bytes(32), schnorr.N.to_bytes(32, "big"), b"\xff" * 32],
    ids=["zero", "order", "too-big"],
)
def test_out_of_range_secret_key_raises_schnorr_error(secret: bytes) -> None:
    with pytest.raises(schnorr.SchnorrError):
        schnorr.public_key(secret)
    with pytest.raises(schnorr.SchnorrError):
        schnorr.sign(secret, bytes(32), bytes(32))
    with pytest.raises(schnorr.SchnorrError):
        schnorr.reference_sign(secret, bytes(32), bytes(32))


def test_aux_rand_must_be_32_bytes() -> None:
    secret = bytes(31) + b"\x03"
    with pytest.raises(schnorr.SchnorrError):
        schnorr.sign(secret, bytes(32), bytes(31))
    with pytest.raises(schnorr.SchnorrError):
        schnorr.reference_sign(secret, bytes(32), bytes(31))


secret_keys = st.integers(min_value=1, max_value=schnorr.N - 1).map(lambda d: d.to_bytes(32, "big"))


@ORACLE
@given(
    secret=secret_keys,
    message=st.binary(min_size=32, max_size=32),
    aux=st.binary(min_size=32, max_size=32),
    bit=st.integers(min_value=0, max_value=511),
)
def test_fast_path_agrees_with_reference(
    secret: bytes, message: bytes, aux: bytes, bit: int
) -> None:
    signature = schnorr.sign(secret, message, aux)
    assert signature == schnorr.reference_sign(secret, message, aux)
    pubkey = schnorr.public_key(secret)
    assert schnorr.verify(pubkey, message, signature) is True
    flipped = bytearray(signature)
    flipped[bit // 8] ^= 1 << (bit % 8)
    fast = schnorr.verify(pubkey, message, bytes(flipped))
    assert fast is schnorr.reference_verify(pubkey, message, bytes(flipped))
    assert fast is False


def test_tagged_hash_matches_bip_definition() -> None:
    import hashlib

    tag = hashlib.sha256(b"BIP0340/challenge").digest()
    assert (
        schnorr.tagged_hash("BIP0340/challenge", b"x") == hashlib.sha256(tag + tag + b"x").digest()
    )
