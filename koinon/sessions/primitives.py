"""X25519, HKDF-SHA256 and HMAC-SHA256 as the sessions use them, with foreign errors translated."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nacl.bindings
import nacl.exceptions

from koinon.sessions.errors import SessionError

Random = Callable[[int], bytes]
"""A source of randomness: `os.urandom` in a node, a seeded `random.Random().randbytes` in tests."""

KEY_SIZE = 32
_FIELD_PRIME = 2**255 - 19
_HASH_SIZE = 32


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An X25519 key pair; `secret` is the raw 32-byte private scalar (clamped by X25519 itself)."""

    secret: bytes = field(repr=False)
    public: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> KeyPair:
        """The key pair of a 32-byte secret."""
        if len(secret) != KEY_SIZE:
            raise SessionError("an X25519 secret key is 32 bytes")
        # libsodium's fixed-base multiplication uses precomputed tables: about twice as fast as
        # OpenSSL loading a private key and deriving its public key, which a DH ratchet step does.
        return cls(secret, nacl.bindings.crypto_scalarmult_base(secret))

    @classmethod
    def generate(cls, random: Random) -> KeyPair:
        """A fresh key pair drawn from `random`."""
        return cls.from_secret(random(KEY_SIZE))


def dh(own: KeyPair, peer_public: bytes) -> bytes:
    """X25519(own, peer); a malformed, non-canonical or low-order peer key raises SessionError."""
    if len(peer_public) != KEY_SIZE:
        raise SessionError("an X25519 public key is 32 bytes")
    if int.from_bytes(peer_public, "little") >= _FIELD_PRIME:
        # RFC 7748 would mask bit 255 and reduce; refusing keeps every key one encoding only.
        raise SessionError("X25519 public key not canonically encoded")
    try:
        shared: bytes = nacl.bindings.crypto_scalarmult(own.secret, peer_public)
    except nacl.exceptions.RuntimeError as exc:  # the all-zero shared secret of a low-order point
        raise SessionError("X25519 public key of low order") from exc
    return shared


def _fast_sha256() -> Callable[[bytes], Any]:
    # OpenSSL 3.0 looks the digest up again on every hashlib/hmac call (5-10 µs here), which
    # dominated the ratchet; CPython's built-in SHA-256 does the small inputs of a ratchet in ~1 µs.
    for name in ("_sha2", "_sha256"):
        try:
            constructor: Callable[[bytes], Any] = importlib.import_module(name).sha256
        except (ImportError, AttributeError):
            continue
        return constructor
    return hashlib.sha256


_sha256 = _fast_sha256()
_INNER_PAD = bytes(b ^ 0x36 for b in range(256))
_OUTER_PAD = bytes(b ^ 0x5C for b in range(256))
_BLOCK_SIZE = 64


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """RFC 2104 HMAC-SHA256 (tested against the standard library's `hmac`)."""
    if len(key) > _BLOCK_SIZE:
        key = _sha256(key).digest()
    key = key.ljust(_BLOCK_SIZE, b"\0")
    inner: bytes = _sha256(key.translate(_INNER_PAD) + message).digest()
    outer: bytes = _sha256(key.translate(_OUTER_PAD) + inner).digest()
    return outer


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF-SHA256 (tested against `cryptography`'s HKDF)."""
    if not 0 < length <= 255 * _HASH_SIZE:
        raise SessionError("HKDF output length out of range")
    return hkdf_expand(hmac_sha256(salt or bytes(_HASH_SIZE), ikm), info, length)


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF-Expand with SHA-256; `prk` must already be a uniformly random key."""
    okm = b""
    block = b""
    counter = 1
    while len(okm) < length:
        block = hmac_sha256(prk, block + info + bytes((counter,)))
        okm += block
        counter += 1
    return okm[:length]


_RK_INFO = b"koinon/ratchet/v1/root"
_NONCE_INFO = b"koinon/ratchet/v1/nonce"


def kdf_rk(root_key: bytes, dh_output: bytes) -> tuple[bytes, bytes]:
    """KDF_RK: (new root key, new chain key) from HKDF(salt=root key, ikm=DH output)."""
    okm = hkdf(dh_output, root_key, _RK_INFO, 2 * KEY_SIZE)
    return okm[:KEY_SIZE], okm[KEY_SIZE:]


def kdf_ck(chain_key: bytes) -> tuple[bytes, bytes]:
    """KDF_CK: (next chain key, message key) as HMAC-SHA256(ck, 0x02) and HMAC-SHA256(ck, 0x01)."""
    key = chain_key.ljust(_BLOCK_SIZE, b"\0")  # both HMACs share the padded key (hot path)
    inner, outer = key.translate(_INNER_PAD), key.translate(_OUTER_PAD)
    next_chain_key: bytes = _sha256(outer + _sha256(inner + b"\x02").digest()).digest()
    message_key: bytes = _sha256(outer + _sha256(inner + b"\x01").digest()).digest()
    return next_chain_key, message_key


def message_nonce(message_key: bytes) -> bytes:
    """The AEAD nonce of a message key: SHA-256(info || mk), first 12 bytes.

    The message key itself is the AEAD key. Each message key encrypts exactly one message, so any
    fixed nonce would be safe; deriving it costs one hash and adds no second key to keep apart.
    """
    nonce: bytes = _sha256(_NONCE_INFO + message_key).digest()
    return nonce[:12]
