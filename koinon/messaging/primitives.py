"""The symmetric primitives NIP-44 v2 is built from: HKDF-SHA256, HMAC-SHA256 and ChaCha20."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from koinon.errors import invalid

HASH_LEN = 32
MAX_HKDF_OUTPUT = 255 * HASH_LEN
CHACHA_KEY_LEN = 32
CHACHA_NONCE_LEN = 12


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC (RFC 2104) with SHA-256; keys of any length."""
    return hmac.digest(key, message, hashlib.sha256)


def hkdf_extract(ikm: bytes, salt: bytes) -> bytes:
    """HKDF-Extract (RFC 5869) with SHA-256; an empty salt means 32 zero bytes, as HMAC pads it."""
    return hmac_sha256(salt, ikm)


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand (RFC 5869) with SHA-256; at most 255 blocks of output."""
    if not 0 <= length <= MAX_HKDF_OUTPUT:
        raise invalid(f"HKDF output length must be between 0 and {MAX_HKDF_OUTPUT} bytes")
    if len(prk) < HASH_LEN:
        raise invalid("HKDF pseudorandom key must be at least 32 bytes")
    okm = b""
    block = b""
    counter = 1
    while len(okm) < length:
        block = hmac_sha256(prk, block + info + bytes([counter]))
        okm += block
        counter += 1
    return okm[:length]


def chacha20(key: bytes, nonce: bytes, data: bytes) -> bytes:
    """ChaCha20 (RFC 8439) keystream XOR `data`, 96-bit nonce, block counter starting at 0."""
    if len(key) != CHACHA_KEY_LEN or len(nonce) != CHACHA_NONCE_LEN:
        raise invalid("ChaCha20 needs a 32-byte key and a 12-byte nonce")
    # cryptography takes a 16-byte nonce: the 32-bit little-endian counter, then the RFC nonce.
    cipher = Cipher(algorithms.ChaCha20(key, b"\x00\x00\x00\x00" + nonce), mode=None)
    encryptor = cipher.encryptor()
    return encryptor.update(data) + encryptor.finalize()


def equal_ct(a: bytes, b: bytes) -> bool:
    """Constant-time equality of two byte strings."""
    return hmac.compare_digest(a, b)
