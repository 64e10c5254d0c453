"""NIP-44 version 2 encrypted payloads: conversation keys, padding, ChaCha20 and HMAC-SHA256."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from coincurve import PublicKey

from koinon.core import schnorr
from koinon.core.event import is_hex
from koinon.errors import invalid
from koinon.messaging.primitives import (
    chacha20,
    equal_ct,
    hkdf_expand,
    hkdf_extract,
    hmac_sha256,
)

VERSION = 2
SALT = b"nip44-v2"
MIN_PLAINTEXT_SIZE = 1
MAX_PLAINTEXT_SIZE = 0xFFFF
# Sending stays within the classic two-byte length prefix. Decryption also accepts the extended
# prefix of the later revision (as nostr-tools 2.x writes it): two zero bytes, then a four-byte
# big-endian length of at least 65,536.
EXTENDED_MIN_SIZE = 0x10000
EXTENDED_MAX_SIZE = 0xFFFFFFFF
NONCE_LEN = 32
MAC_LEN = 32
MIN_PAYLOAD_CHARS = 132
MIN_DATA_LEN = 99  # version, nonce, MAC and the smallest padded plaintext with its prefix
# Largest payload the extended prefix can describe: ~4 GiB, base64-encoded.
_MAX_DATA_LEN = 1 + NONCE_LEN + 6 + EXTENDED_MAX_SIZE + MAC_LEN
_MAX_PAYLOAD_CHARS = 4 * ((_MAX_DATA_LEN + 2) // 3)


@dataclass(frozen=True, slots=True, repr=False)
class MessageKeys:
    """The per-message keys HKDF-expand derives from a conversation key and a nonce."""

    chacha_key: bytes
    chacha_nonce: bytes
    hmac_key: bytes


def conversation_key(secret: bytes, pubkey_hex: str) -> bytes:
    """The key `secret` shares with `pubkey_hex`: HKDF-extract of the ECDH x coordinate."""
    if len(secret) != 32 or not 0 < int.from_bytes(secret, "big") < schnorr.N:
        raise invalid("secret key out of range")
    if not is_hex(pubkey_hex, 64):
        raise invalid("public key must be 64 lowercase hex characters")
    try:
        point = PublicKey(b"\x02" + bytes.fromhex(pubkey_hex))
        shared = point.multiply(secret)
    except ValueError as exc:
        raise invalid("public key is not on the curve") from exc
    shared_x = shared.format(compressed=True)[1:]
    return hkdf_extract(shared_x, SALT)


def message_keys(conv_key: bytes, nonce: bytes) -> MessageKeys:
    """ChaCha20 key and nonce and HMAC key for one message."""
    if len(conv_key) != 32:
        raise invalid("conversation key must be 32 bytes")
    if len(nonce) != NONCE_LEN:
        raise invalid("nonce must be 32 bytes")
    keys = hkdf_expand(conv_key, nonce, 76)
    return MessageKeys(keys[0:32], keys[32:44], keys[44:76])


def calc_padded_len(unpadded_len: int) -> int:
    """Length of the padded plaintext (without its length prefix): power-of-two based chunks."""
    if unpadded_len < 1:
        raise invalid("plaintext must not be empty")
    if unpadded_len <= 32:
        return 32
    next_power = 1 << (unpadded_len - 1).bit_length()
    chunk = 32 if next_power <= 256 else next_power // 8
    return chunk * ((unpadded_len - 1) // chunk + 1)


def pad(plaintext: bytes) -> bytes:
    """`[u16 length][plaintext][zeros]`; only lengths 1..65535 are ever sent."""
    size = len(plaintext)
    if not MIN_PLAINTEXT_SIZE <= size <= MAX_PLAINTEXT_SIZE:
        raise invalid(f"plaintext must be 1 to {MAX_PLAINTEXT_SIZE} bytes, not {size}")
    return size.to_bytes(2, "big") + plaintext + bytes(calc_padded_len(size) - size)


def unpad(padded: bytes) -> bytes:
    """The plaintext of a padded blob, with the classic or the extended length prefix."""
    if len(padded) < 2:
        raise invalid("invalid padding")
    size = int.from_bytes(padded[0:2], "big")
    prefix = 2
    if size == 0:
        if len(padded) < 6:
            raise invalid("invalid padding")
        size = int.from_bytes(padded[2:6], "big")
        prefix = 6
        if size < EXTENDED_MIN_SIZE:
            raise invalid("invalid padding: extended length below 65536")
    plaintext = padded[prefix : prefix + size]
    if len(plaintext) != size or len(padded) != prefix + calc_padded_len(size):
        raise invalid("invalid padding")
    return plaintext


def _mac(keys: MessageKeys, nonce: bytes, ciphertext: bytes) -> bytes:
    return hmac_sha256(keys.hmac_key, nonce + ciphertext)


def encrypt_padded(padded: bytes, conv_key: bytes, nonce: bytes) -> str:
    """Encrypt an already padded blob and encode the payload (`encrypt` without the padding)."""
    keys = message_keys(conv_key, nonce)
    ciphertext = chacha20(keys.chacha_key, keys.chacha_nonce, padded)
    data = bytes([VERSION]) + nonce + ciphertext + _mac(keys, nonce, ciphertext)
    return base64.b64encode(data).decode("ascii")


def encrypt(plaintext: str, conversation_key: bytes, nonce: bytes) -> str:
    """The base64 NIP-44 v2 payload of `plaintext`; the caller supplies 32 random nonce bytes."""
    try:
        raw = plaintext.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise invalid("plaintext is not valid Unicode") from exc
    return encrypt_padded(pad(raw), conversation_key, nonce)


def _decode_payload(payload: str) -> tuple[bytes, bytes, bytes]:
    if not isinstance(payload, str):
        raise invalid("payload must be a string")
    if payload.startswith("#"):
        raise invalid("unknown encryption version")
    if not MIN_PAYLOAD_CHARS <= len(payload) <= _MAX_PAYLOAD_CHARS:
        raise invalid(f"invalid payload length: {len(payload)}")
    try:
        data = base64.b64decode(payload.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise invalid("invalid base64") from exc
    if len(data) < MIN_DATA_LEN:
        raise invalid(f"invalid data length: {len(data)}")
    if data[0] != VERSION:
        raise invalid(f"unknown encryption version {data[0]}")
    return data[1 : 1 + NONCE_LEN], data[1 + NONCE_LEN : -MAC_LEN], data[-MAC_LEN:]


def decrypt(payload: str, conversation_key: bytes) -> str:
    """The plaintext of a NIP-44 v2 payload, after checking its MAC and padding."""
    nonce, ciphertext, mac = _decode_payload(payload)
    keys = message_keys(conversation_key, nonce)
    if not equal_ct(_mac(keys, nonce, ciphertext), mac):
        raise invalid("invalid MAC")
    plaintext = unpad(chacha20(keys.chacha_key, keys.chacha_nonce, ciphertext))
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid("plaintext is not valid UTF-8") from exc
