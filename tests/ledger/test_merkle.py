"""RFC 9162 Merkle maths: proofs assembled from stored subtrees (`plan`) against the slow reference
(`reference`), the verifiers against every single alteration of an honest proof, published
known-answer vectors, and junk input that must give False and never raise."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator, Mapping

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from koinon.ledger import plan, reference
from koinon.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    leaf_hash,
    node_hash,
    split_point,
    verify_consistency,
    verify_inclusion,
)

MAX_LEAVES = 4096
SMALL = 300
SOME_HASH = hashlib.sha256(b"some other hash").digest()


@functools.cache
def all_leaves() -> tuple[bytes, ...]:
    """Leaf hashes of one long log; the tree of size n is built over its first n leaves."""
    return tuple(leaf_hash(i.to_bytes(4, "big")) for i in range(MAX_LEAVES))


def leaves(size: int) -> tuple[bytes, ...]:
    return all_leaves()[:size]


@functools.cache
def node_table() -> dict[plan.NodeId, bytes]:
    """Every complete subtree (level, index) of the long log, each hashed by the reference."""
    table: dict[plan.NodeId, bytes] = {}
    level = 0
    while 1 << level <= MAX_LEAVES:
        width = 1 << level
        for idx in range(MAX_LEAVES >> level):
            table[(level, idx)] = reference.root(all_leaves()[idx * width : (idx + 1) * width])
        level += 1
    return table


class StoredNodes(Mapping[plan.NodeId, bytes]):
    """What a store holding exactly `size` leaves has: complete subtrees inside [0, size) only,
    so a plan that reaches past the log's end fails loudly instead of reading future leaves."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read: set[plan.NodeId] = set()

    def __getitem__(self, node: plan.NodeId) -> bytes:
        level, idx = node
        if level < 0 or idx < 0 or (idx + 1) << level > self.size:
            raise KeyError(node)
        self.read.add(node)
        return node_table()[node]

    def __iter__(self) -> Iterator[plan.NodeId]:
        raise NotImplementedError  # proofs must look nodes up, never scan the table

    def __len__(self) -> int:
        return sum(self.size >> level for level in range(self.size.bit_length()))


@functools.cache
def ref_root(size: int) -> bytes:
    return reference.root(leaves(size))


def stored_root(size: int) -> bytes:
    return plan.fold(plan.root_plan(size), StoredNodes(size))


def stored_inclusion(index: int, size: int) -> list[bytes]:
    plans = plan.inclusion_plan(index, size)
    nodes = StoredNodes(size)
    proof = [plan.fold(p, nodes) for p in plans]
    assert nodes.read == plan.needed(plans)
    assert len(plan.needed(plans)) <= 2 * size.bit_length()  # O(log n) look-ups
    return proof


def stored_consistency(first: int, second: int) -> list[bytes]:
    plans = plan.consistency_plan(first, second)
    nodes = StoredNodes(second)
    proof = [plan.fold(p, nodes) for p in plans]
    assert nodes.read == plan.needed(plans)
    assert len(plan.needed(plans)) <= 2 * second.bit_length()
    return proof


def path_shape(index: int, size: int) -> tuple[bool, ...]:
    """For each element of PATH(index, D[size]), bottom up: is the sibling on the right?"""
    if size <= 1:
        return ()
    k = split_point(size)
    if index < k:
        return (*path_shape(index, k), True)
    return (*path_shape(index - k, size - k), False)


def flip(digest: bytes, bit: int = 0) -> bytes:
    """`digest` with bit number `bit` (0..255) inverted."""
    altered = bytearray(digest)
    altered[bit // 8] ^= 1 << (bit % 8)
    return bytes(altered)


@st.composite
def leaf_in_tree(draw: st.DrawFn, low: int = 1, high: int = SMALL) -> tuple[int, int]:
    size = draw(st.integers(low, high))
    return draw(st.integers(0, size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn, low: int = 0, high: int = SMALL) -> tuple[int, int]:
    second = draw(st.integers(low, high))
    return draw(st.integers(0, second)), second


LARGE = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL_TREES = settings(max_examples=50, deadline=None)


# -- hashing: known answers -----------------------------------------------------------------------


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    left, right = hashlib.sha256(b"l").digest(), hashlib.sha256(b"r").digest()
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    # Without the prefixes an interior node could pass for a 64-byte leaf (second preimage).
    assert leaf_hash(left + right) != node_hash(left, right)
    assert node_hash(left, right) != node_hash(right, left)
    assert leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


def test_empty_root_is_the_hash_of_nothing() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert reference.root([]) == EMPTY_ROOT
    assert plan.fold(plan.root_plan(0), {}) == EMPTY_ROOT
    assert len(EMPTY_ROOT) == HASH_SIZE


@pytest.mark.parametrize(
    ("n", "k"), [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1025, 1024)], ids=str
)
def test_split_point_is_the_largest_power_of_two_below_n(n: int, k: int) -> None:
    assert split_point(n) == k


# The RFC 6962 test data of the Certificate Transparency projects (certificate-transparency-go,
# trillian `merkle/logverifier/log_verifier_test.go`): eight leaves, the roots of every prefix and
# a few proofs. Our reference, our plans and our verifiers must all agree with them.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        *("", "00", "10", "2021", "3031", "40414243", "5051525354555657"),
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (leaf index, tree size, proof)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [  # (first, second, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_HASHES = [leaf_hash(leaf) for leaf in CT_LEAVES]


def ct_nodes(size: int) -> dict[plan.NodeId, bytes]:
    """Complete subtrees of the first `size` CT leaves."""
    return {
        (level, idx): reference.root(CT_HASHES[idx << level : (idx + 1) << level])
        for level in range(size.bit_length())
        for idx in range(size >> level)
    }


@pytest.mark.parametrize("size", range(1, 9), ids=lambda n: f"size{n}")
def test_ct_vector_roots(size: int) -> None:
    expected = bytes.fromhex(CT_ROOTS[size - 1])
    assert reference.root(CT_HASHES[:size]) == expected
    assert plan.fold(plan.root_plan(size), ct_nodes(size)) == expected


@pytest.mark.parametrize(
    ("index", "size", "proof"), CT_INCLUSION, ids=[f"leaf{i}-of-{n}" for i, n, _ in CT_INCLUSION]
)
def test_ct_vector_inclusion(index: int, size: int, proof: list[str]) -> None:
    expected = [bytes.fromhex(p) for p in proof]
    root = bytes.fromhex(CT_ROOTS[size - 1])
    assert reference.inclusion_proof(CT_HASHES[:size], index) == expected
    nodes = ct_nodes(size)
    assert [plan.fold(p, nodes) for p in plan.inclusion_plan(index, size)] == expected
    assert verify_inclusion(CT_HASHES[index], index, size, expected, root)


@pytest.mark.parametrize(
    ("first", "second", "proof"),
    CT_CONSISTENCY,
    ids=[f"{m}-to-{n}" for m, n, _ in CT_CONSISTENCY],
)
def test_ct_vector_consistency(first: int, second: int, proof: list[str]) -> None:
    expected = [bytes.fromhex(p) for p in proof]
    first_root, second_root = (bytes.fromhex(CT_ROOTS[n - 1]) for n in (first, second))
    assert reference.consistency_proof(CT_HASHES[:second], first) == expected
    nodes = ct_nodes(second)
    assert [plan.fold(p, nodes) for p in plan.consistency_plan(first, second)] == expected
    assert verify_consistency(first, second, first_root, second_root, expected)


# -- plans over stored subtrees equal the reference -----------------------------------------------


@st.composite
def ranges(draw: st.DrawFn) -> tuple[int, int]:
    end = draw(st.integers(0, MAX_LEAVES))
    return draw(st.integers(0, end)), end


@SMALL_TREES
@given(ranges())
def test_decompose_covers_the_range_with_aligned_subtrees_largest_first(
    bounds: tuple[int, int],
) -> None:
    start, end = bounds
    position = start
    for level, idx in plan.decompose(start, end):
        assert idx << level == position  # contiguous, left to right, aligned by construction
        position += 1 << level
    assert position == end


@SMALL_TREES
@given(st.integers(0, SMALL))
def test_root_plan_folds_to_the_reference_root(size: int) -> None:
    assert stored_root(size) == reference.root(leaves(size))


@LARGE
@given(st.integers(SMALL, MAX_LEAVES))
def test_root_plan_folds_to_the_reference_root_large(size: int) -> None:
    assert stored_root(size) == reference.root(leaves(size))


def check_inclusion_matches_reference(index: int, size: int) -> None:
    proof = stored_inclusion(index, size)
    assert proof == reference.inclusion_proof(leaves(size), index)
    assert verify_inclusion(leaves(size)[index], index, size, proof, ref_root(size))


@SMALL_TREES
@given(leaf_in_tree())
def test_inclusion_from_stored_subtrees_equals_reference_and_verifies(
    position: tuple[int, int],
) -> None:
    check_inclusion_matches_reference(*position)


@LARGE
@given(leaf_in_tree(SMALL, MAX_LEAVES))
def test_inclusion_from_stored_subtrees_equals_reference_large(position: tuple[int, int]) -> None:
    check_inclusion_matches_reference(*position)


def check_consistency_matches_reference(first: int, second: int) -> None:
    proof = stored_consistency(first, second)
    assert proof == reference.consistency_proof(leaves(second), first)
    first_root, second_root = ref_root(first), ref_root(second)
    assert verify_consistency(first, second, first_root, second_root, proof)


@SMALL_TREES
@given(two_sizes())
def test_consistency_from_stored_subtrees_equals_reference_and_verifies(
    sizes: tuple[int, int],
) -> None:
    check_consistency_matches_reference(*sizes)


@LARGE
@given(two_sizes(SMALL, MAX_LEAVES))
def test_consistency_from_stored_subtrees_equals_reference_large(sizes: tuple[int, int]) -> None:
    check_consistency_matches_reference(*sizes)


def test_every_small_tree_exhaustively() -> None:
    for size in range(0, 33):
        assert stored_root(size) == reference.root(leaves(size))
        for index in range(size):
            check_inclusion_matches_reference(index, size)
        for first in range(size + 1):
            check_consistency_matches_reference(first, size)


# -- inclusion: every alteration fails ------------------------------------------------------------


def honest_inclusion(index: int, size: int) -> tuple[bytes, list[bytes], bytes]:
    tree = leaves(size)
    return tree[index], reference.inclusion_proof(tree, index), ref_root(size)


@SMALL_TREES
@given(leaf_in_tree(), st.data())
def test_altered_inclusion_proof_element_fails(
    position: tuple[int, int], data: st.DataObject
) -> None:
    index, size = position
    leaf, proof, root = honest_inclusion(index, size)
    assume(proof)
    at = data.draw(st.integers(0, len(proof) - 1))
    proof[at] = flip(proof[at], data.draw(st.integers(0, 8 * HASH_SIZE - 1)))
    assert not verify_inclusion(leaf, index, size, proof, root)


@SMALL_TREES
@given(leaf_in_tree(), st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE))
def test_altered_root_or_leaf_fails(position: tuple[int, int], other: bytes) -> None:
    index, size = position
    leaf, proof, root = honest_inclusion(index, size)
    assume(other not in (leaf, root))
    assert not verify_inclusion(leaf, index, size, proof, other)
    assert not verify_inclusion(other, index, size, proof, root)
    assert not verify_inclusion(leaf, index, size, proof, EMPTY_ROOT)


@SMALL_TREES
@given(leaf_in_tree(), st.integers(-(2**64), 2**64))
def test_altered_index_fails(position: tuple[int, int], other: int) -> None:
    index, size = position
    leaf, proof, root = honest_inclusion(index, size)
    assume(other != index)
    assert not verify_inclusion(leaf, other, size, proof, root)
    for near in (index - 1, index + 1, index ^ 2):
        if near != index:
            assert not verify_inclusion(leaf, near, size, proof, root)


@SMALL_TREES
@given(leaf_in_tree(), st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE))
def test_truncated_or_extended_inclusion_proof_fails(
    position: tuple[int, int], extra: bytes
) -> None:
    index, size = position
    leaf, proof, root = honest_inclusion(index, size)
    if proof:
        assert not verify_inclusion(leaf, index, size, proof[:-1], root)
        assert not verify_inclusion(leaf, index, size, proof[1:], root)
        assert not verify_inclusion(leaf, index, size, [proof[0], extra, *proof[1:]], root)
    for longer in ([*proof, extra], [extra, *proof], [*proof, root], [root, *proof]):
        assert not verify_inclusion(leaf, index, size, longer, root)


@SMALL_TREES
@given(leaf_in_tree(), st.data())
def test_altered_size_fails_unless_the_path_has_the_same_shape(
    position: tuple[int, int], data: st.DataObject
) -> None:
    index, size = position
    leaf, proof, root = honest_inclusion(index, size)
    other = data.draw(st.integers(0, 2 * size + 2).filter(lambda n: n != size))
    same_shape = other > index and path_shape(index, other) == path_shape(index, size)
    assert verify_inclusion(leaf, index, other, proof, root) == same_shape


def test_inclusion_proofs_do_not_commit_to_the_size_when_the_path_shape_is_the_same() -> None:
    """A known property of RFC 9162, not a Koinon bug: the verifier replays the path's shape, so
    leaf 0 of the tree of 3 (siblings h1 then h2, both on the right) also "verifies" as leaf 0 of
    a tree of 4 with that same root. The signed size must come from the tree head, never from the
    proof alone."""
    tree = leaves(3)
    proof = reference.inclusion_proof(tree, 0)
    assert proof == [tree[1], tree[2]]
    assert path_shape(0, 3) == path_shape(0, 4) == (True, True)
    assert verify_inclusion(tree[0], 0, 4, proof, reference.root(tree))
    # A different shape does commit: leaf 2 is a right child in size 4 but a lone one in size 3.
    assert not verify_inclusion(tree[2], 2, 4, reference.inclusion_proof(tree, 2), tree[2])


# -- consistency: every alteration fails ----------------------------------------------------------


def honest_consistency(first: int, second: int) -> tuple[bytes, bytes, list[bytes]]:
    return ref_root(first), ref_root(second), reference.consistency_proof(leaves(second), first)


@SMALL_TREES
@given(two_sizes(low=1), st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), st.data())
def test_altered_consistency_proof_or_roots_fail(
    sizes: tuple[int, int], other: bytes, data: st.DataObject
) -> None:
    first, second = sizes
    assume(first >= 1)
    first_root, second_root, proof = honest_consistency(first, second)
    assume(other not in (first_root, second_root))
    assert not verify_consistency(first, second, other, second_root, proof)
    assert not verify_consistency(first, second, first_root, other, proof)
    if first_root != second_root:
        assert not verify_consistency(first, second, second_root, first_root, proof)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        altered = [*proof]
        altered[at] = flip(altered[at], data.draw(st.integers(0, 8 * HASH_SIZE - 1)))
        assert not verify_consistency(first, second, first_root, second_root, altered)
        assert not verify_consistency(first, second, first_root, second_root, proof[:-1])
        assert not verify_consistency(first, second, first_root, second_root, proof[1:])
        assert not verify_consistency(first, second, first_root, second_root, [])
    for longer in ([*proof, other], [other, *proof], [*proof, first_root], [second_root, *proof]):
        assert not verify_consistency(first, second, first_root, second_root, longer)


@SMALL_TREES
@given(two_sizes(low=1))
def test_first_larger_than_second_fails(sizes: tuple[int, int]) -> None:
    first, second = sizes
    assume(first < second)
    first_root, second_root, proof = honest_consistency(first, second)
    assert not verify_consistency(second, first, second_root, first_root, proof)
    assert not verify_consistency(second, first, first_root, second_root, proof)
    assert not verify_consistency(second, first, second_root, first_root, [])


@SMALL_TREES
@given(st.integers(0, SMALL), st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE))
def test_equal_sizes_need_an_empty_proof_and_equal_roots(size: int, other: bytes) -> None:
    root = ref_root(size)
    assume(other != root)
    assert stored_consistency(size, size) == reference.consistency_proof(leaves(size), size) == []
    assert verify_consistency(size, size, root, root, [])
    assert not verify_consistency(size, size, root, root, [root])
    assert not verify_consistency(size, size, root, root, [other])
    assert not verify_consistency(size, size, root, other, [])
    assert not verify_consistency(size, size, other, root, [])


def test_every_tree_extends_the_empty_tree_whatever_first_root_is_claimed() -> None:
    """Convention (as in Trillian's verifier), not RFC text: RFC 9162 defines PROOF only for
    0 < m < n; for m = 0 the proof is empty and the first root is not compared."""
    second_root = reference.root(leaves(5))
    assert verify_consistency(0, 5, EMPTY_ROOT, second_root, [])
    assert verify_consistency(0, 5, SOME_HASH, second_root, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, second_root, [SOME_HASH])


# -- junk: False, never an exception --------------------------------------------------------------

any_hash = st.binary(min_size=0, max_size=40)
any_int = st.integers(-(2**70), 2**70)


@settings(max_examples=100, deadline=None)
@given(any_hash, any_int, any_int, st.lists(any_hash, max_size=40), any_hash)
def test_verify_inclusion_never_raises(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    result = verify_inclusion(leaf, index, size, proof, root)
    assert isinstance(result, bool)
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof):
        assert result is False


@settings(max_examples=100, deadline=None)
@given(any_int, any_int, any_hash, any_hash, st.lists(any_hash, max_size=40))
def test_verify_consistency_never_raises(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> None:
    result = verify_consistency(first, second, first_root, second_root, proof)
    assert isinstance(result, bool)
    if not 0 <= first <= second or any(len(p) != HASH_SIZE for p in proof):
        assert result is False


@SMALL_TREES
@given(leaf_in_tree(), st.integers(0, HASH_SIZE * 2).filter(lambda n: n != HASH_SIZE))
def test_a_proof_element_of_the_wrong_length_fails(position: tuple[int, int], length: int) -> None:
    index, size = position
    leaf, proof, root = honest_inclusion(index, size)
    assume(proof)
    proof[-1] = (proof[-1] * 2)[:length]
    assert not verify_inclusion(leaf, index, size, proof, root)


@pytest.mark.parametrize(
    ("index", "size"), [(-1, 5), (5, 5), (6, 5), (0, 0), (0, -1), (2**64, 2**64)], ids=str
)
def test_index_outside_the_tree_fails(index: int, size: int) -> None:
    assert not verify_inclusion(leaves(1)[0], index, size, [], leaves(1)[0])
    assert not verify_inclusion(leaves(1)[0], index, size, [SOME_HASH], SOME_HASH)


def test_inclusion_with_wrong_length_leaf_and_root_fails() -> None:
    assert not verify_inclusion(b"", 0, 1, [], b"")
    assert not verify_inclusion(b"junk", 0, 1, [], b"junk")


def test_consistency_with_wrong_length_roots_fails() -> None:
    assert not verify_consistency(3, 3, b"x", b"x", [])
