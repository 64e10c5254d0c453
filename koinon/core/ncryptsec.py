"""NIP-49 encrypted secret keys (`ncryptsec1…`): scrypt + XChaCha20-Poly1305."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError

from koinon.core import bech32
from koinon.errors import KoinonError, invalid

VERSION = 0x02
DEFAULT_LOG_N = 16
KEY_SECURITY_UNKNOWN = 0x02
# 1 GiB of scrypt memory. NIP-49 allows up to 22 (4 GiB); a key file is refused above 20 rather
# than letting a tampered file make the CLI allocate gigabytes.
MAX_LOG_N = 20


class WrongPassphrase(KoinonError):
    """The passphrase does not open this ncryptsec."""


def _derive(passphrase: str, salt: bytes, log_n: int) -> bytes:
    if not 1 <= log_n <= MAX_LOG_N:
        raise invalid(f"scrypt log_n {log_n} out of range (1 to {MAX_LOG_N})")
    normalized = unicodedata.normalize("NFKC", passphrase).encode()
    memory = 128 * 8 * (1 << log_n)  # scrypt needs 128·r·N bytes
    return hashlib.scrypt(
        normalized, salt=salt, n=1 << log_n, r=8, p=1, dklen=32, maxmem=memory + (1 << 20)
    )


def encrypt(
    secret: bytes,
    passphrase: str,
    random_bytes: Callable[[int], bytes],
    log_n: int = DEFAULT_LOG_N,
    key_security: int = KEY_SECURITY_UNKNOWN,
) -> str:
    """Encrypt a 32-byte secret key under a passphrase."""
    salt, nonce = random_bytes(16), random_bytes(24)
    ad = bytes([key_security])
    sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(
        secret, ad, nonce, _derive(passphrase, salt, log_n)
    )
    return bech32.encode("ncryptsec", bytes([VERSION, log_n]) + salt + nonce + ad + sealed)


def decrypt(text: str, passphrase: str) -> bytes:
    """The secret key inside an ncryptsec; `WrongPassphrase` if it does not open."""
    hrp, data = bech32.decode(text.strip())
    if hrp != "ncryptsec" or len(data) != 91:
        raise invalid("not an ncryptsec string")
    if data[0] != VERSION:
        raise invalid(f"unknown ncryptsec version {data[0]}")
    if data[42] > KEY_SECURITY_UNKNOWN:
        raise invalid(f"unknown key security byte {data[42]}")
    log_n, salt, nonce, ad, sealed = data[1], data[2:18], data[18:42], data[42:43], data[43:]
    try:
        return bytes(
            crypto_aead_xchacha20poly1305_ietf_decrypt(
                sealed, ad, nonce, _derive(passphrase, salt, log_n)
            )
        )
    except CryptoError:
        raise WrongPassphrase("wrong passphrase") from None
