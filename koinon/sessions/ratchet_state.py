"""The versioned binary form of a ratchet session's state, for the caller to encrypt at rest.

Version 1, integers big-endian: version u8 (1) | AD length u16 | AD | root key | own ratchet
secret | presence flags u8 (1: peer ratchet key, 2: sending chain, 4: receiving chain) | those
32-byte values that are present, in that order | ns u32 | nr u32 | pn u32 | retired count u16 |
retired ratchet keys | skipped count u32 | (ratchet key, n u32, message key) per skipped key.
"""

from __future__ import annotations

import struct

from koinon.sessions.errors import StateError

STATE_VERSION = 1
SkippedKeys = dict[tuple[bytes, int], bytes]
Chains = tuple[bytes | None, bytes | None, bytes | None]
Counters = tuple[int, int, int]
_COUNTERS = struct.Struct(">III")
_SKIPPED = struct.Struct(">32sI32s")


def dump(  # the state of the specification, field by field
    ad: bytes,
    root_key: bytes,
    own_secret: bytes,
    chains: Chains,
    counters: Counters,
    skipped: SkippedKeys,
    retired: list[bytes],
) -> bytes:
    """Serialize one session's state (format in the module docstring)."""
    flags = sum(1 << i for i, value in enumerate(chains) if value is not None)
    parts = [
        bytes((STATE_VERSION,)),
        len(ad).to_bytes(2, "big"),
        ad,
        root_key,
        own_secret,
        bytes((flags,)),
        *(value for value in chains if value is not None),
        _COUNTERS.pack(*counters),
        len(retired).to_bytes(2, "big"),
        *retired,
        len(skipped).to_bytes(4, "big"),
        *(_SKIPPED.pack(key, n, mk) for (key, n), mk in skipped.items()),
    ]
    return b"".join(parts)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, size: int) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise StateError("session state truncated")
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def integer(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")


def load(data: bytes) -> tuple[bytes, bytes, bytes, Chains, Counters, SkippedKeys, list[bytes]]:
    """Parse `dump` output; anything malformed raises StateError."""
    if not isinstance(data, bytes):
        raise StateError("session state must be bytes")
    reader = _Reader(data)
    version = reader.integer(1)
    if version != STATE_VERSION:
        raise StateError(f"unknown session state version {version}")
    ad = reader.take(reader.integer(2))
    root_key = reader.take(32)
    own_secret = reader.take(32)
    flags = reader.integer(1)
    if flags > 7:
        raise StateError("unknown session state flags")
    dhr, cks, ckr = (reader.take(32) if flags & (1 << i) else None for i in range(3))
    counters: Counters = _COUNTERS.unpack(reader.take(_COUNTERS.size))
    retired = [reader.take(32) for _ in range(reader.integer(2))]
    count = reader.integer(4)
    if count * _SKIPPED.size > len(data) - reader.offset:
        raise StateError("session state truncated")
    skipped: SkippedKeys = {}
    for _ in range(count):
        key, n, mk = _SKIPPED.unpack(reader.take(_SKIPPED.size))
        skipped[(key, n)] = mk
    if reader.offset != len(data) or len(skipped) != count:
        raise StateError("malformed session state")
    return ad, root_key, own_secret, (dhr, cks, ckr), counters, skipped, retired
