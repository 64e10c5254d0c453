"""BIP-340 Schnorr signatures over secp256k1.

Nostr signs 32-byte event ids, which take the libsecp256k1 fast path (coincurve). Messages of any
other length, and the test oracle, use the plain-integer implementation written from the BIP.
"""

from __future__ import annotations

import functools
import hashlib

from coincurve import PrivateKey, PublicKeyXOnly

P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_G = (
    0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
    0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8,
)

Point = tuple[int, int] | None


class SchnorrError(ValueError):
    """A key, nonce or message cannot be used for signing."""


def tagged_hash(tag: str, data: bytes) -> bytes:
    """SHA-256(SHA-256(tag) || SHA-256(tag) || data), the BIP-340 domain separation."""
    tag_hash = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(tag_hash + tag_hash + data).digest()


def _add(a: Point, b: Point) -> Point:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and a[1] != b[1]:
        return None
    if a == b:
        slope = 3 * a[0] * a[0] * pow(2 * a[1], P - 2, P) % P
    else:
        slope = (b[1] - a[1]) * pow(b[0] - a[0], P - 2, P) % P
    x = (slope * slope - a[0] - b[0]) % P
    return x, (slope * (a[0] - x) - a[1]) % P


def _mul(point: Point, scalar: int) -> Point:
    result: Point = None
    addend = point
    while scalar:
        if scalar & 1:
            result = _add(result, addend)
        addend = _add(addend, addend)
        scalar >>= 1
    return result


def _lift_x(x: int) -> Point:
    """The point with x-coordinate `x` and an even y, or None when there is none."""
    if x >= P:
        return None
    y_sq = (pow(x, 3, P) + 7) % P
    y = pow(y_sq, (P + 1) // 4, P)
    if y * y % P != y_sq:
        return None
    return x, y if y % 2 == 0 else P - y


def _challenge(r: bytes, pubkey: bytes, message: bytes) -> int:
    return int.from_bytes(tagged_hash("BIP0340/challenge", r + pubkey + message), "big") % N


def reference_public_key(secret: bytes) -> bytes:
    """The x-only public key of `secret`, computed without libsecp256k1."""
    d = int.from_bytes(secret, "big")
    if not 0 < d < N:
        raise SchnorrError("secret key out of range")
    point = _mul(_G, d)
    assert point is not None
    return point[0].to_bytes(32, "big")


def reference_sign(secret: bytes, message: bytes, aux_rand: bytes) -> bytes:
    """BIP-340 signing, step by step as the BIP defines it (slow; any message length)."""
    d0 = int.from_bytes(secret, "big")
    if not 0 < d0 < N:
        raise SchnorrError("secret key out of range")
    if len(aux_rand) != 32:
        raise SchnorrError("aux_rand must be 32 bytes")
    public = _mul(_G, d0)
    assert public is not None
    d = d0 if public[1] % 2 == 0 else N - d0
    pubkey = public[0].to_bytes(32, "big")
    masked = d ^ int.from_bytes(tagged_hash("BIP0340/aux", aux_rand), "big")
    nonce_hash = tagged_hash("BIP0340/nonce", masked.to_bytes(32, "big") + pubkey + message)
    k0 = int.from_bytes(nonce_hash, "big") % N
    if k0 == 0:
        raise SchnorrError("nonce is zero")
    r_point = _mul(_G, k0)
    assert r_point is not None
    k = k0 if r_point[1] % 2 == 0 else N - k0
    r = r_point[0].to_bytes(32, "big")
    e = _challenge(r, pubkey, message)
    return r + ((k + e * d) % N).to_bytes(32, "big")


def reference_verify(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    """BIP-340 verification without libsecp256k1 (the oracle for the fast path)."""
    if len(pubkey) != 32 or len(signature) != 64:
        return False
    public = _lift_x(int.from_bytes(pubkey, "big"))
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if public is None or r >= P or s >= N:
        return False
    e = _challenge(signature[:32], pubkey, message)
    point = _add(_mul(_G, s), _mul(public, N - e))
    return point is not None and point[1] % 2 == 0 and point[0] == r


def public_key(secret: bytes) -> bytes:
    """The 32-byte x-only public key of a 32-byte secret key."""
    try:
        return PublicKeyXOnly.from_secret(secret).format()
    except ValueError as exc:
        raise SchnorrError("secret key out of range") from exc


def sign(secret: bytes, message: bytes, aux_rand: bytes) -> bytes:
    """A 64-byte BIP-340 signature; `aux_rand` is 32 bytes of caller-supplied randomness."""
    if len(message) != 32:
        return reference_sign(secret, message, aux_rand)
    if len(aux_rand) != 32:
        raise SchnorrError("aux_rand must be 32 bytes")
    try:
        return PrivateKey(secret).sign_schnorr(message, aux_rand)
    except ValueError as exc:
        raise SchnorrError("secret key out of range") from exc


@functools.lru_cache(maxsize=16384)
def _parsed_key(pubkey: bytes) -> PublicKeyXOnly | None:
    """Parsing a key (a square root mod p) costs a third of a verification; authors repeat."""
    try:
        return PublicKeyXOnly(pubkey)
    except ValueError:
        return None


def verify(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    """True when `signature` is a valid BIP-340 signature of `message` by x-only `pubkey`."""
    if len(pubkey) != 32 or len(signature) != 64:
        return False
    if len(message) != 32:
        return reference_verify(pubkey, message, signature)
    key = _parsed_key(pubkey)
    return key is not None and bool(key.verify(signature, message))
