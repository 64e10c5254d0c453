"""NIP-49 encrypted secret keys: the published vector, round trips and damaged input."""

from __future__ import annotations

import random
import unicodedata

import pytest

from koinon.core import bech32, ncryptsec
from koinon.core.ncryptsec import WrongPassphrase
from koinon.errors import KoinonError, Rejected

VECTOR = (
    "ncryptsec1qgg9947rlpvqu76pj5ecreduf9jxhselq2nae2kghhvd5g7dgjtcxfqtd67p9m0w57lspw8gsq6yphnm"
    "8623nsl8xn9j4jdzz84zm3frztj3z7s35vpzmqf6ksu8r89qk5z2zxfmu5gv8th8wclt0h4p"
)
VECTOR_SECRET = "3501454135014541350145413501453fefb02227e449e57cf4d3a3ce05378683"
SECRET = bytes.fromhex("67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa")
FAST = 4  # scrypt log_n small enough for unit tests


def seal(passphrase: str = "correct horse", seed: int = 1, log_n: int = FAST) -> str:
    return ncryptsec.encrypt(SECRET, passphrase, random.Random(seed).randbytes, log_n=log_n)


def test_nip49_vector() -> None:
    assert ncryptsec.decrypt(VECTOR, "nostr").hex() == VECTOR_SECRET


def test_round_trip() -> None:
    text = seal()
    assert text.startswith("ncryptsec1")
    assert ncryptsec.decrypt(text, "correct horse") == SECRET
    assert ncryptsec.decrypt(f"  {text}\n", "correct horse") == SECRET


def test_layout_of_the_payload() -> None:
    hrp, data = bech32.decode(seal(log_n=5))
    assert hrp == "ncryptsec"
    assert len(data) == 91
    assert data[0] == ncryptsec.VERSION
    assert data[1] == 5
    assert data[42] == ncryptsec.KEY_SECURITY_UNKNOWN


def test_same_randomness_gives_same_string() -> None:
    assert seal(seed=7) == seal(seed=7)
    assert seal(seed=7) != seal(seed=8)


def test_wrong_passphrase() -> None:
    with pytest.raises(WrongPassphrase):
        ncryptsec.decrypt(seal(), "correct horse!")
    with pytest.raises(WrongPassphrase):
        ncryptsec.decrypt(VECTOR, "Nostr")
    assert issubclass(WrongPassphrase, KoinonError)


# Composed and compatibility forms that NFKC folds to the same text (NIP-49's own example).
PASSPHRASES = {
    "nfkc": unicodedata.normalize("NFKC", "ÅΩẛ̣"),
    "nfc": unicodedata.normalize("NFC", "ÅΩẛ̣"),
    "nfd": unicodedata.normalize("NFD", "ÅΩẛ̣"),
    "signs": "\u212b\u2126\u1e9b\u0323",
}


def test_passphrase_forms_really_differ() -> None:
    assert len(set(PASSPHRASES.values())) == len(PASSPHRASES)
    for text in PASSPHRASES.values():
        assert unicodedata.normalize("NFKC", text) == "\u00c5\u03a9\u1e69"


@pytest.mark.parametrize("sealed_with", PASSPHRASES, ids=list(PASSPHRASES))
@pytest.mark.parametrize("opened_with", PASSPHRASES, ids=list(PASSPHRASES))
def test_passphrase_is_nfkc_normalized(sealed_with: str, opened_with: str) -> None:
    text = seal(PASSPHRASES[sealed_with])
    assert ncryptsec.decrypt(text, PASSPHRASES[opened_with]) == SECRET


def _alter(text: str, index: int, value: int) -> str:
    hrp, data = bech32.decode(text)
    changed = bytearray(data)
    changed[index] = value
    return bech32.encode(hrp, bytes(changed))


@pytest.mark.parametrize("index", [*range(2, 91, 3), 90], ids=lambda i: f"byte-{i}")
def test_altered_byte_is_an_error_not_a_crash(index: int) -> None:
    text = seal()
    _, data = bech32.decode(text)
    altered = _alter(text, index, data[index] ^ 0x01)
    with pytest.raises(KoinonError):
        ncryptsec.decrypt(altered, "correct horse")


@pytest.mark.parametrize(
    ("index", "value"),
    [(0, 0x01), (0, 0x03), (1, 0), (1, 23), (1, 255)],
    ids=["version-1", "version-3", "log-n-0", "log-n-23", "log-n-255"],
)
def test_bad_header_is_rejected(index: int, value: int) -> None:
    with pytest.raises(Rejected):
        ncryptsec.decrypt(_alter(seal(), index, value), "correct horse")


@pytest.mark.parametrize("log_n", [21, 22])
def test_large_log_n_is_an_error_not_a_crash(log_n: int) -> None:
    # OpenSSL refuses before allocating: this fails in microseconds either way.
    with pytest.raises(KoinonError):
        ncryptsec.decrypt(_alter(seal(), 1, log_n), "correct horse")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ncryptsec1",
        VECTOR[:-1] + ("q" if VECTOR[-1] != "q" else "p"),
        bech32.encode("ncryptsec", bytes(90)),
        bech32.encode("ncryptsec", bytes(92)),
        bech32.encode("nsec", bech32.decode(VECTOR)[1]),
        bech32.encode_simple("nsec", SECRET.hex()),
    ],
    ids=["empty", "no-data", "checksum", "short", "long", "wrong-hrp", "plain-nsec"],
)
def test_not_an_ncryptsec(text: str) -> None:
    with pytest.raises(Rejected):
        ncryptsec.decrypt(text, "nostr")
