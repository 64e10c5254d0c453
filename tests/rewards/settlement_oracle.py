"""The settlement tree written the slow, obvious way: the test oracle for koinon.rewards.tree.

Pairing left to right and promoting an unpaired last node is the same tree as splitting the
sorted leaves before the largest power of two below their count (RFC 9162's MTH), so this
oracle recurses on that split instead of building levels, and hashes with pycryptodome's
Keccak instead of eth_hash.
"""

from __future__ import annotations

from Crypto.Hash import keccak


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (the pre-standard SHA-3 Ethereum uses)."""
    return keccak.new(digest_bits=256, data=data).digest()


def abi_word(value: int | bytes) -> bytes:
    """One ABI word: an integer big-endian, an address or bytes32 left-padded with zeros."""
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    return value.rjust(32, b"\0")


def payout_hash(epoch: int, account: bytes, amount: int) -> bytes:
    """The payout leaf, as the spec states it."""
    return keccak256(b"".join(abi_word(v) for v in (0, epoch, account, amount)))


def bond_hash(epoch: int, event_id: bytes, owner: bytes, slashed: int) -> bytes:
    """The bond leaf, as the spec states it."""
    return keccak256(b"".join(abi_word(v) for v in (1, epoch, event_id, owner, slashed)))


def parent(a: bytes, b: bytes) -> bytes:
    """keccak256(min ‖ max), comparing the hashes as numbers."""
    low, high = sorted((a, b), key=lambda h: int.from_bytes(h, "big"))
    return keccak256(low + high)


def _split(count: int) -> int:
    """The largest power of two strictly below `count` (count >= 2)."""
    k = 1
    while k * 2 < count:
        k *= 2
    return k


def _root(hashes: list[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return parent(_root(hashes[:k]), _root(hashes[k:]))


def _path(hashes: list[bytes], index: int) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = _split(len(hashes))
    if index < k:
        return [*_path(hashes[:k], index), _root(hashes[k:])]
    return [*_path(hashes[k:], index - k), _root(hashes[:k])]


def canonical(hashes: list[bytes]) -> list[bytes]:
    """Sorted by value, each hash once."""
    unique: list[bytes] = []
    for h in sorted(hashes, key=lambda h: int.from_bytes(h, "big")):
        if h not in unique:
            unique.append(h)
    return unique


def oracle_root(hashes: list[bytes]) -> bytes:
    """The root over leaf hashes in any order; 32 zero bytes for none."""
    leaves = canonical(hashes)
    return _root(leaves) if leaves else bytes(32)


def oracle_proof(hashes: list[bytes], leaf: bytes) -> list[bytes]:
    """The proof of `leaf`, bottom up."""
    leaves = canonical(hashes)
    return _path(leaves, leaves.index(leaf))


def oracle_verify(leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """Fold the proof into the leaf and compare with a non-zero root."""
    node = leaf
    for sibling in proof:
        node = parent(node, sibling)
    return root != bytes(32) and node == root
