"""Wycheproof vectors for the primitive wrappers NIP-44 calls: HKDF-SHA256 and HMAC-SHA256.

ChaCha20 alone has no Wycheproof file (only the ChaCha20-Poly1305 AEAD, which Koinon does not use);
RFC 8439 appendix A.1 and the NIP-44 payload vectors pin it down byte for byte instead.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from koinon.errors import Reason, Rejected
from koinon.messaging.primitives import (
    chacha20,
    equal_ct,
    hkdf_expand,
    hkdf_extract,
    hmac_sha256,
)
from tests.helpers import VECTORS

WYCHEPROOF = VECTORS / "wycheproof"


def _cases(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    data = json.loads((WYCHEPROOF / name).read_text("utf-8"))
    return [(group, test) for group in data["testGroups"] for test in group["tests"]]


HKDF = _cases("hkdf_sha256_test.json")
HMAC = _cases("hmac_sha256_test.json")


def _id(case: tuple[dict[str, Any], dict[str, Any]]) -> str:
    test = case[1]
    return f"tc{test['tcId']}-{test['result']}-{'-'.join(test['flags']) or 'plain'}"


@pytest.mark.parametrize("case", HKDF, ids=[_id(c) for c in HKDF])
def test_hkdf_sha256(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    test = case[1]
    ikm, salt, info = (bytes.fromhex(test[k]) for k in ("ikm", "salt", "info"))
    prk = hkdf_extract(ikm, salt)
    if test["result"] == "invalid":
        with pytest.raises(Rejected) as info_exc:
            hkdf_expand(prk, info, test["size"])
        assert info_exc.value.reason is Reason.INVALID
    else:
        assert hkdf_expand(prk, info, test["size"]).hex() == test["okm"]


@pytest.mark.parametrize("case", HMAC, ids=[_id(c) for c in HMAC])
def test_hmac_sha256(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    group, test = case
    tag = hmac_sha256(bytes.fromhex(test["key"]), bytes.fromhex(test["msg"]))
    matches = equal_ct(tag[: group["tagSize"] // 8], bytes.fromhex(test["tag"]))
    assert matches is (test["result"] == "valid")


def test_hkdf_expand_rejects_short_key() -> None:
    with pytest.raises(Rejected):
        hkdf_expand(b"\x00" * 31, b"", 32)


def test_chacha20_is_its_own_inverse_and_checks_sizes() -> None:
    key, nonce = bytes(range(32)), bytes(12)
    data = b"ladies and gentlemen" * 5
    assert chacha20(key, nonce, chacha20(key, nonce, data)) == data
    assert chacha20(key, nonce, data) != data
    with pytest.raises(Rejected):
        chacha20(key, bytes(16), data)
    with pytest.raises(Rejected):
        chacha20(key[:16], nonce, data)


def test_chacha20_rfc8439_block_zero() -> None:
    # RFC 8439 appendix A.1, test vector 1: all-zero key and nonce, block counter 0.
    keystream = chacha20(bytes(32), bytes(12), bytes(64))
    assert keystream.hex() == (
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
        "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"
    )
