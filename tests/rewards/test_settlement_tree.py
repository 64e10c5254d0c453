"""koinon.rewards.tree against its slow oracle: leaf encoding, roots, proofs, and tampering."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koinon.errors import Rejected
from koinon.rewards.tree import (
    EMPTY_ROOT,
    BondLeaf,
    Leaf,
    LeafNotInTree,
    PayoutLeaf,
    SettlementTree,
    node_hash,
    proof_for,
    settlement_root,
    verify_proof,
)
from tests.rewards.settlement_oracle import (
    bond_hash,
    keccak256,
    oracle_proof,
    oracle_root,
    oracle_verify,
    payout_hash,
)

uint256 = st.integers(min_value=0, max_value=2**256 - 1)
small = st.integers(min_value=0, max_value=3)  # small values make equal fields likely
payouts = st.builds(
    PayoutLeaf,
    epoch=st.one_of(small, uint256),
    account=st.binary(min_size=20, max_size=20),
    amount=st.one_of(small, uint256),
)
bonds = st.builds(
    BondLeaf,
    epoch=st.one_of(small, uint256),
    event_id=st.binary(min_size=32, max_size=32),
    owner=st.binary(min_size=20, max_size=20),
    slashed=st.one_of(small, uint256),
)
leaves = st.one_of(payouts, bonds)
leaf_lists = st.lists(leaves, min_size=1, max_size=40)


def expected_hash(leaf: Leaf) -> bytes:
    if isinstance(leaf, PayoutLeaf):
        return payout_hash(leaf.epoch, leaf.account, leaf.amount)
    return bond_hash(leaf.epoch, leaf.event_id, leaf.owner, leaf.slashed)


def test_empty_tree_has_the_zero_root_and_proves_nothing() -> None:
    tree = SettlementTree.of([])
    assert tree.root == EMPTY_ROOT == bytes(32)
    assert len(tree) == 0
    with pytest.raises(LeafNotInTree):
        tree.proof(PayoutLeaf(1, bytes(20), 5))


def test_one_leaf_is_its_own_root_with_an_empty_proof() -> None:
    leaf = PayoutLeaf(3, b"\x11" * 20, 10**18)
    assert settlement_root([leaf]) == leaf.hash()
    assert proof_for([leaf], leaf) == ()
    assert verify_proof(leaf, (), leaf.hash())


def test_two_leaves_hash_the_smaller_first() -> None:
    a, b = PayoutLeaf(1, b"\x01" * 20, 1).hash(), PayoutLeaf(1, b"\x02" * 20, 1).hash()
    low, high = sorted((a, b))
    assert settlement_root([a, b]) == settlement_root([b, a]) == node_hash(a, b)
    assert node_hash(a, b) == node_hash(b, a) == keccak256(low + high)


def test_known_leaf_encoding() -> None:
    # abi.encode(uint256 0, uint256 7, address 0x00…01, uint256 5): four words, 128 bytes.
    account = bytes(19) + b"\x01"
    words = (0).to_bytes(32, "big") + (7).to_bytes(32, "big") + bytes(12) + account
    assert PayoutLeaf(7, account, 5).hash() == keccak256(words + (5).to_bytes(32, "big"))


def test_payout_and_bond_leaves_never_collide_by_layout() -> None:
    payout = PayoutLeaf(1, b"\x22" * 20, 0)
    bond = BondLeaf(1, bytes(12) + b"\x22" * 20, b"\x00" * 20, 0)
    assert payout.hash() != bond.hash()


@given(leaves)
def test_leaf_hashes_follow_the_spec(leaf: Leaf) -> None:
    assert leaf.hash() == expected_hash(leaf)


@given(leaf_lists, st.randoms(use_true_random=False))
def test_root_matches_the_oracle_whatever_the_order(leaf_list: list[Leaf], rng: object) -> None:
    hashes = [expected_hash(leaf) for leaf in leaf_list]
    shuffled = list(leaf_list) + leaf_list[: len(leaf_list) // 2]  # with duplicates
    rng.shuffle(shuffled)  # type: ignore[attr-defined]

    root = settlement_root(leaf_list)
    assert root == oracle_root(hashes)
    assert settlement_root(shuffled) == root
    assert settlement_root(hashes) == root  # leaf hashes work as well as leaves
    assert len(SettlementTree.of(shuffled)) == len(set(hashes))


@given(leaf_lists)
def test_every_proof_verifies_and_matches_the_oracle(leaf_list: list[Leaf]) -> None:
    tree = SettlementTree.of(leaf_list)
    hashes = [expected_hash(leaf) for leaf in leaf_list]
    depth = (len(tree) - 1).bit_length()
    for leaf in leaf_list:
        proof = tree.proof(leaf)
        assert list(proof) == oracle_proof(hashes, leaf.hash())
        assert len(proof) <= depth
        assert verify_proof(leaf, proof, tree.root)
        assert oracle_verify(leaf.hash(), list(proof), tree.root)
        assert leaf in tree


def _altered(leaf: Leaf, name: str, data: st.DataObject) -> Leaf:
    value = getattr(leaf, name)
    other: int | bytes
    if isinstance(value, int):
        other = data.draw(uint256.filter(lambda v: v != value), label=name)
    else:
        other = data.draw(
            st.binary(min_size=len(value), max_size=len(value)).filter(lambda v: v != value),
            label=name,
        )
    # The field is chosen at run time, so its type is known only then.
    change: dict[str, Any] = {name: other}
    return dataclasses.replace(leaf, **change)


@given(leaf_lists, st.data())
def test_an_altered_field_fails(leaf_list: list[Leaf], data: st.DataObject) -> None:
    tree = SettlementTree.of(leaf_list)
    leaf = data.draw(st.sampled_from(leaf_list), label="leaf")
    field = data.draw(st.sampled_from([f.name for f in dataclasses.fields(leaf)]), label="field")
    forged = _altered(leaf, field, data)
    if forged in tree:  # the altered leaf happens to be another leaf of the tree
        return
    assert not verify_proof(forged, tree.proof(leaf), tree.root)


@given(st.lists(leaves, min_size=2, max_size=40, unique=True), st.data())
def test_an_altered_proof_fails(leaf_list: list[Leaf], data: st.DataObject) -> None:
    tree = SettlementTree.of(leaf_list)
    leaf = data.draw(st.sampled_from(leaf_list), label="leaf")
    proof = list(tree.proof(leaf))
    assert proof  # two leaves at least: every leaf has a sibling somewhere
    index = data.draw(st.integers(0, len(proof) - 1), label="index")
    bit = data.draw(st.integers(0, 255), label="bit")
    flipped = bytearray(proof[index])
    flipped[bit // 8] ^= 1 << (bit % 8)
    forgeries = [
        [*proof[:index], bytes(flipped), *proof[index + 1 :]],  # one sibling changed
        proof[:index] + proof[index + 1 :],  # one sibling dropped
        [*proof, bytes(flipped)],  # one sibling too many
    ]
    if len(proof) > 1:
        forgeries.append(proof[::-1])  # siblings out of order
    for forged in forgeries:
        assert not verify_proof(leaf, forged, tree.root)
        assert not oracle_verify(leaf.hash(), forged, tree.root)


@given(leaf_lists, payouts)
def test_a_stranger_has_no_proof(leaf_list: list[Leaf], stranger: PayoutLeaf) -> None:
    tree = SettlementTree.of(leaf_list)
    if stranger in tree:
        return
    with pytest.raises(LeafNotInTree):
        tree.proof(stranger)


@given(leaves)
def test_the_zero_root_never_verifies(leaf: Leaf) -> None:
    assert not verify_proof(leaf, (), EMPTY_ROOT)


@pytest.mark.parametrize(
    "proof",
    [(b"short",), (bytes(33),), (bytes(32),) * 65],
    ids=["short sibling", "long sibling", "deeper than the contracts allow"],
)
def test_malformed_proofs_fail(proof: tuple[bytes, ...]) -> None:
    leaf = PayoutLeaf(1, bytes(20), 1)
    assert not verify_proof(leaf, proof, leaf.hash())


@pytest.mark.parametrize(
    "build",
    [
        lambda: PayoutLeaf(-1, bytes(20), 1),
        lambda: PayoutLeaf(2**256, bytes(20), 1),
        lambda: PayoutLeaf(1, bytes(19), 1),
        lambda: PayoutLeaf(1, bytes(20), True),
        lambda: PayoutLeaf(1, "00" * 20, 1),  # type: ignore[arg-type]
        lambda: BondLeaf(1, bytes(31), bytes(20), 0),
        lambda: BondLeaf(1, bytes(32), bytes(21), 0),
        lambda: BondLeaf(1, bytes(32), bytes(20), -5),
        lambda: SettlementTree.of([b"not a hash"]),
    ],
    ids=[
        "negative epoch",
        "epoch past uint256",
        "short account",
        "bool amount",
        "hex account",
        "short event id",
        "long owner",
        "negative slash",
        "short leaf hash",
    ],
)
def test_malformed_leaves_are_rejected(build: object) -> None:
    with pytest.raises(Rejected):
        build()  # type: ignore[operator]


def test_the_example_of_the_protocol_doc() -> None:
    # docs/protocol.md, "Rewards settlement tree".
    first = PayoutLeaf(1, bytes(19) + b"\x01", 10**18)
    bond = BondLeaf(1, b"\xab" * 32, bytes(19) + b"\x02", 5 * 10**17)
    third = PayoutLeaf(1, bytes(19) + b"\x03", 2 * 10**18)
    hashes: dict[Leaf, str] = {
        first: "b367d16ffb9b6911d97488a601ef947e08af8eaffa4057b151d6029dca5848ed",
        bond: "f55e9ae02c5db4517c9798d03a2d27d116bd0c9d09c4e633302dba93270bdf76",
        third: "66845ac5a3dbc7a5b979cf824b9234ed82f4879705066e8cd5326fb1959b5882",
    }
    for leaf, expected in hashes.items():
        assert leaf.hash().hex() == expected
    tree = SettlementTree.of([first, bond, third])
    inner = "771d6da26d5435a69ad100fee5faed2bc3f9dc9d0c030b3a8f8fde3f01eef78c"
    assert tree.root.hex() == "392927031dea0e415e27eab8ae16f185d56cd5b3069538f267037c9a6d10b9d7"
    assert [h.hex() for h in tree.proof(first)] == [hashes[third], hashes[bond]]
    assert [h.hex() for h in tree.proof(bond)] == [inner]
