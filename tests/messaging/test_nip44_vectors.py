"""The published NIP-44 v2 test vectors (paulmillr/nip44), valid and invalid, as the suite."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from koinon.core import schnorr
from koinon.errors import Reason, Rejected
from koinon.messaging import nip44
from tests.helpers import VECTORS as TEST_VECTORS

VECTORS_PATH = TEST_VECTORS / "nip44.vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text("utf-8"))["v2"]
VALID = VECTORS["valid"]
INVALID = VECTORS["invalid"]
# The checksum NIP-44 prints for its vectors file.
NIP44_VECTORS_SHA256 = "269ed0f69e4c192512cc779e78c555090cebc7c785b609e338a62afc3ce25040"


def _ids(cases: list[dict[str, Any]], key: str) -> list[str]:
    return [f"{i}-{str(case.get(key, ''))[:24]}" for i, case in enumerate(cases)]


def test_vectors_file_is_the_published_one() -> None:
    assert hashlib.sha256(VECTORS_PATH.read_bytes()).hexdigest() == NIP44_VECTORS_SHA256


@pytest.mark.parametrize(
    "case", VALID["get_conversation_key"], ids=_ids(VALID["get_conversation_key"], "note")
)
def test_get_conversation_key(case: dict[str, str]) -> None:
    key = nip44.conversation_key(bytes.fromhex(case["sec1"]), case["pub2"])
    assert key.hex() == case["conversation_key"]


@pytest.mark.parametrize(
    "case", VALID["get_message_keys"]["keys"], ids=_ids(VALID["get_message_keys"]["keys"], "nonce")
)
def test_get_message_keys(case: dict[str, str]) -> None:
    conv_key = bytes.fromhex(VALID["get_message_keys"]["conversation_key"])
    keys = nip44.message_keys(conv_key, bytes.fromhex(case["nonce"]))
    assert keys.chacha_key.hex() == case["chacha_key"]
    assert keys.chacha_nonce.hex() == case["chacha_nonce"]
    assert keys.hmac_key.hex() == case["hmac_key"]


@pytest.mark.parametrize(
    ("unpadded", "padded"),
    VALID["calc_padded_len"],
    ids=[str(c[0]) for c in VALID["calc_padded_len"]],
)
def test_calc_padded_len(unpadded: int, padded: int) -> None:
    assert nip44.calc_padded_len(unpadded) == padded


@pytest.mark.parametrize(
    "case", VALID["encrypt_decrypt"], ids=_ids(VALID["encrypt_decrypt"], "plaintext")
)
def test_encrypt_decrypt(case: dict[str, str]) -> None:
    sec1, sec2 = bytes.fromhex(case["sec1"]), bytes.fromhex(case["sec2"])
    pub1, pub2 = schnorr.public_key(sec1).hex(), schnorr.public_key(sec2).hex()
    conv_key = nip44.conversation_key(sec1, pub2)
    assert conv_key.hex() == case["conversation_key"]
    payload = nip44.encrypt(case["plaintext"], conv_key, bytes.fromhex(case["nonce"]))
    assert payload == case["payload"]
    assert nip44.conversation_key(sec2, pub1) == conv_key
    assert nip44.decrypt(payload, conv_key) == case["plaintext"]


@pytest.mark.parametrize(
    "case",
    VALID["encrypt_decrypt_long_msg"],
    ids=_ids(VALID["encrypt_decrypt_long_msg"], "pattern"),
)
def test_encrypt_decrypt_long_msg(case: dict[str, Any]) -> None:
    plaintext = case["pattern"] * case["repeat"]
    assert hashlib.sha256(plaintext.encode()).hexdigest() == case["plaintext_sha256"]
    conv_key = bytes.fromhex(case["conversation_key"])
    payload = nip44.encrypt(plaintext, conv_key, bytes.fromhex(case["nonce"]))
    assert hashlib.sha256(payload.encode()).hexdigest() == case["payload_sha256"]
    assert nip44.decrypt(payload, conv_key) == plaintext


@pytest.mark.parametrize("length", INVALID["encrypt_msg_lengths"])
def test_encrypt_rejects_length(length: int) -> None:
    with pytest.raises(Rejected) as info:
        nip44.encrypt("a" * length, b"\x01" * 32, b"\x02" * 32)
    assert info.value.reason is Reason.INVALID


@pytest.mark.parametrize("case", INVALID["decrypt"], ids=_ids(INVALID["decrypt"], "note"))
def test_decrypt_rejects(case: dict[str, str]) -> None:
    with pytest.raises(Rejected) as info:
        nip44.decrypt(case["payload"], bytes.fromhex(case["conversation_key"]))
    assert info.value.reason is Reason.INVALID
    assert info.value.message.startswith(case["note"])


@pytest.mark.parametrize(
    "case", INVALID["get_conversation_key"], ids=_ids(INVALID["get_conversation_key"], "note")
)
def test_get_conversation_key_rejects(case: dict[str, str]) -> None:
    with pytest.raises(Rejected) as info:
        nip44.conversation_key(bytes.fromhex(case["sec1"]), case["pub2"])
    assert info.value.reason is Reason.INVALID
