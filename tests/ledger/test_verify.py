"""Receipt verification (`koinon.ledger.verify`) without a node: receipts built by hand over a small
in-memory log with the reference Merkle code and fixed keys. An honest receipt passes every link;
each tampering breaks exactly the link it should; junk never raises."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core import schnorr
from koinon.core.event import Event
from koinon.ledger import reference
from koinon.ledger.entry import LogEntry
from koinon.ledger.heads import AnchorRecord, TreeHead, sign_anchor_record, sign_tree_head
from koinon.ledger.merkle import leaf_hash
from koinon.ledger.verify import (
    OnChainAnchor,
    Report,
    check_anchor,
    check_chain,
    check_entry,
    check_inclusion,
    verify_receipt,
)
from tests.helpers import make_event, make_key, pubkey_of

T0 = 1_700_000_000
AUX = bytes(32)
NODE, OTHER_NODE = make_key(400), make_key(401)
AUTHOR, OTHER_AUTHOR, MALLORY = make_key(402), make_key(403), make_key(404)
NODE_PUB = pubkey_of(NODE)

EVENTS = [
    make_event(AUTHOR if i % 2 else OTHER_AUTHOR, 1, f"note {i}", (), T0 + i) for i in range(7)
]
LEAVES = [LogEntry.of(e).encode() for e in EVENTS]
HASHES = [leaf_hash(leaf) for leaf in LEAVES]
INDEX, ANCHORED, HEAD = 3, 5, 7  # the event at leaf 3; anchored at size 5; newest head at 7
EVENT = EVENTS[INDEX]
ANCHOR = AnchorRecord(
    size=ANCHORED,
    root=reference.root(HASHES[:ANCHORED]),
    chain_id=31337,
    contract="0x" + "11" * 20,
    operator="0x" + "22" * 20,
    index=0,
    tx_hash="0x" + "33" * 32,
    block_number=12,
    block_time=T0 + 50,
)
ON_CHAIN = OnChainAnchor(ANCHOR.root, ANCHORED, ANCHOR.block_number, ANCHOR.block_time)

Receipt = dict[str, Any]


def hexes(proof: list[bytes]) -> list[str]:
    return [p.hex() for p in proof]


def head_part(head: TreeHead) -> dict[str, Any]:
    return {
        "size": head.size,
        "root": head.root.hex(),
        "timestamp": head.timestamp,
        "node": head.node,
        "event": head.event.to_dict(),
    }


def signed_head(size: int, key: bytes = NODE, root: bytes | None = None) -> TreeHead:
    return sign_tree_head(key, size, root or reference.root(HASHES[:size]), T0 + 100 + size, AUX)


def honest_receipt(index: int = INDEX) -> Receipt:
    """What a node serves for leaf `index`: the event, the leaf, proofs to the newest head and
    to the anchored head, and the consistency between them (a fresh copy to tamper with)."""
    return copy.deepcopy(_honest_receipt(index))


@functools.cache
def _honest_receipt(index: int) -> Receipt:
    record = sign_anchor_record(NODE, ANCHOR, T0 + 60, AUX)
    return {
        "event_id": EVENTS[index].id,
        "index": index,
        "leaf": LEAVES[index].hex(),
        "event": EVENTS[index].to_dict(),
        "erased": False,
        "head": head_part(signed_head(HEAD)),
        "inclusion": hexes(reference.inclusion_proof(HASHES[:HEAD], index)),
        "anchor": {
            "record": record.to_dict(),
            "head": signed_head(ANCHORED).event.to_dict(),
            "inclusion": hexes(reference.inclusion_proof(HASHES[:ANCHORED], index)),
            "consistency": hexes(reference.consistency_proof(HASHES[:HEAD], ANCHORED)),
        },
    }


def verify(
    receipt: Receipt, on_chain: OnChainAnchor | None = ON_CHAIN, event_id: str = EVENT.id
) -> Report:
    report = verify_receipt(receipt, event_id, NODE_PUB)
    check_chain(report, on_chain)
    return report


def failed(report: Report) -> list[str]:
    return [c.name for c in report.checks if not c.ok]


def flip_hex(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


def resigned(event: Event, key: bytes, **changes: Any) -> dict[str, Any]:
    """`event` with fields changed, re-signed (new id) by `key`."""
    fields = {**event.to_dict(), **changes}
    return make_event(
        key, fields["kind"], fields["content"], fields["tags"], fields["created_at"]
    ).to_dict()


def sig_by(key: bytes, event_id: str) -> str:
    return schnorr.sign(key, bytes.fromhex(event_id), AUX).hex()


# -- the honest receipt ---------------------------------------------------------------------------


def test_an_honest_receipt_passes_every_link() -> None:
    receipt = honest_receipt()
    report = Report(EVENT.id)
    assert check_entry(report, receipt, EVENT.id)
    assert check_inclusion(report, receipt, NODE_PUB)
    assert check_anchor(report, receipt, NODE_PUB)
    assert check_chain(report, ON_CHAIN)
    assert report.ok and not report.erased
    assert [c.name for c in report.checks] == [
        "signature",
        "tree head",
        "inclusion",
        "anchored inclusion",
        "consistency",
        "chain",
    ]
    assert report.event == EVENT and report.entry == LogEntry.of(EVENT)
    assert (report.index, report.head and report.head.size) == (INDEX, HEAD)
    assert report.anchor == ANCHOR and report.on_chain == ON_CHAIN


@pytest.mark.parametrize("index", range(ANCHORED), ids=lambda i: f"leaf{i}")
def test_every_anchored_leaf_verifies(index: int) -> None:
    report = verify(honest_receipt(index), event_id=EVENTS[index].id)
    assert report.ok, report.checks


def test_an_anchored_head_equal_to_the_newest_head_needs_no_consistency_proof() -> None:
    receipt = honest_receipt()
    receipt["head"] = head_part(signed_head(ANCHORED))
    receipt["inclusion"] = receipt["anchor"]["inclusion"]
    receipt["anchor"]["consistency"] = []
    assert verify(receipt).ok


def test_an_erased_event_still_verifies_from_its_leaf() -> None:
    receipt = honest_receipt()
    receipt["event"], receipt["erased"] = None, True
    report = verify(receipt)
    assert report.erased and report.ok
    assert report.event is None and report.entry == LogEntry.of(EVENT)
    signature = next(c for c in report.checks if c.name == "signature")
    assert signature.ok and "erased" in signature.detail


def test_an_unanchored_receipt_is_not_ok_yet() -> None:
    receipt = honest_receipt()
    receipt["anchor"] = None
    report = verify(receipt)
    assert not report.ok
    assert failed(report) == ["anchor"]
    assert report.checks[-1].detail == "not anchored yet"
    assert report.on_chain is None


def test_a_receipt_not_found_on_chain_is_not_ok() -> None:
    report = verify(honest_receipt(), on_chain=None)
    assert failed(report) == ["chain"] and not report.ok


# -- each tampering breaks exactly its link -------------------------------------------------------


def change_content(r: Receipt) -> None:
    r["event"]["content"] = "not what the author wrote"


def sign_with_another_key(r: Receipt) -> None:
    r["event"]["sig"] = sig_by(MALLORY, EVENT.id)


def serve_another_authors_event(r: Receipt) -> None:
    r["event"] = resigned(EVENT, MALLORY)


def serve_another_logged_event(r: Receipt) -> None:
    r["event"] = EVENTS[INDEX - 1].to_dict()


def leaf_for_another_event(r: Receipt) -> None:
    r["leaf"] = LEAVES[INDEX - 1].hex()


def malformed_leaf(r: Receipt) -> None:
    r["leaf"] = r["leaf"][:-2]


def erased_with_a_foreign_signature_in_the_leaf(r: Receipt) -> None:
    r["event"] = None
    r["leaf"] = LogEntry(EVENT.id, EVENT.pubkey, sig_by(MALLORY, EVENT.id)).encode().hex()


def head_signed_by_another_node(r: Receipt) -> None:
    r["head"] = head_part(signed_head(HEAD, OTHER_NODE))


def head_root_tag_altered(r: Receipt) -> None:
    tags = r["head"]["event"]["tags"]
    r["head"]["event"]["tags"] = [[t[0], flip_hex(t[1])] if t[0] == "root" else t for t in tags]


def head_resigned_over_another_root(r: Receipt) -> None:
    r["head"] = head_part(signed_head(HEAD, root=reference.root(HASHES[:ANCHORED])))


def head_missing(r: Receipt) -> None:
    del r["head"]


def head_of_another_kind(r: Receipt) -> None:
    r["head"]["event"] = resigned(signed_head(HEAD).event, NODE, kind=1)


def inclusion_altered(r: Receipt) -> None:
    r["inclusion"][1] = flip_hex(r["inclusion"][1])


def inclusion_truncated(r: Receipt) -> None:
    r["inclusion"] = r["inclusion"][:-1]


def index_altered(r: Receipt) -> None:
    r["index"] = INDEX + 1


def index_not_an_integer(r: Receipt) -> None:
    r["index"] = str(INDEX)


def anchor_record_signed_by_another_key(r: Receipt) -> None:
    r["anchor"]["record"] = sign_anchor_record(MALLORY, ANCHOR, T0 + 60, AUX).to_dict()


def anchor_record_root_altered(r: Receipt) -> None:
    tags = r["anchor"]["record"]["tags"]
    r["anchor"]["record"]["tags"] = [[t[0], flip_hex(t[1])] if t[0] == "root" else t for t in tags]


def anchor_record_missing(r: Receipt) -> None:
    r["anchor"]["record"] = None


def anchored_inclusion_altered(r: Receipt) -> None:
    r["anchor"]["inclusion"][0] = flip_hex(r["anchor"]["inclusion"][0])


def anchored_inclusion_to_the_newest_head(r: Receipt) -> None:
    r["anchor"]["inclusion"] = r["inclusion"]


def consistency_altered(r: Receipt) -> None:
    r["anchor"]["consistency"][-1] = flip_hex(r["anchor"]["consistency"][-1])


def consistency_missing(r: Receipt) -> None:
    r["anchor"]["consistency"] = None


TAMPERING: list[tuple[Callable[[Receipt], None], str]] = [
    (change_content, "signature"),
    (sign_with_another_key, "signature"),
    (serve_another_authors_event, "signature"),
    (serve_another_logged_event, "signature"),
    (erased_with_a_foreign_signature_in_the_leaf, "signature"),
    (leaf_for_another_event, "leaf"),
    (malformed_leaf, "leaf"),
    (head_signed_by_another_node, "tree head"),
    (head_root_tag_altered, "tree head"),
    (head_missing, "tree head"),
    (head_of_another_kind, "tree head"),
    (head_resigned_over_another_root, "inclusion"),
    (inclusion_altered, "inclusion"),
    (inclusion_truncated, "inclusion"),
    (index_altered, "inclusion"),
    (index_not_an_integer, "inclusion"),
    (anchor_record_signed_by_another_key, "anchor"),
    (anchor_record_root_altered, "anchor"),
    (anchor_record_missing, "anchor"),
    (anchored_inclusion_altered, "anchored inclusion"),
    (anchored_inclusion_to_the_newest_head, "anchored inclusion"),
    (consistency_altered, "consistency"),
    (consistency_missing, "consistency"),
]


@pytest.mark.parametrize(
    ("tamper", "broken"), TAMPERING, ids=[t.__name__.replace("_", "-") for t, _ in TAMPERING]
)
def test_tampering_breaks_exactly_its_link(tamper: Callable[[Receipt], None], broken: str) -> None:
    receipt = honest_receipt()
    tamper(receipt)
    report = verify(receipt)
    assert failed(report) == [broken], report.checks
    assert not report.ok
    # verify_receipt stops at the first broken link (check_chain is a separate, later step).
    assert verify_receipt(receipt, EVENT.id, NODE_PUB).checks[-1].name == broken


@pytest.mark.parametrize(
    "on_chain",
    [
        OnChainAnchor(reference.root(HASHES[:HEAD]), ANCHORED, 12, T0 + 50),
        OnChainAnchor(ANCHOR.root, ANCHORED + 1, 12, T0 + 50),
        OnChainAnchor(ANCHOR.root, ANCHORED - 1, 12, T0 + 50),
    ],
    ids=["other-root", "larger-size", "smaller-size"],
)
def test_a_different_anchor_on_chain_breaks_the_chain_link(on_chain: OnChainAnchor) -> None:
    report = verify(honest_receipt(), on_chain=on_chain)
    assert failed(report) == ["chain"]
    assert not report.ok and report.on_chain is None


def test_a_leaf_beyond_the_anchor_is_not_covered_by_it() -> None:
    """Leaf 6 exists in the newest head (7) but not in the tree anchored at 5."""
    index = HEAD - 1
    receipt = honest_receipt(index)
    receipt["anchor"]["inclusion"] = hexes(reference.inclusion_proof(HASHES[:HEAD], index))
    report = verify(receipt, event_id=EVENTS[index].id)
    assert failed(report) == ["anchored inclusion"]


def test_a_receipt_for_another_event_id_fails_at_the_leaf() -> None:
    report = verify(honest_receipt(), event_id=EVENTS[0].id)
    assert failed(report) == ["leaf"]


def test_verifying_against_another_node_key_fails_at_the_head() -> None:
    report = verify_receipt(honest_receipt(), EVENT.id, pubkey_of(OTHER_NODE))
    assert failed(report) == ["tree head"]


def test_receipt_fields_outside_the_signed_head_are_not_trusted() -> None:
    """The head's size/root/node copies are for display; only its signed event counts."""
    receipt = honest_receipt()
    receipt["head"]["root"] = "00" * 32
    receipt["head"]["size"] = 1
    receipt["head"]["node"] = pubkey_of(MALLORY)
    report = verify(receipt)
    assert report.ok and report.head is not None and report.head.size == HEAD


# -- junk never raises ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from(["00" * 32]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
PATHS = [
    ("leaf",),
    ("event",),
    ("index",),
    ("head",),
    ("head", "event"),
    ("inclusion",),
    ("anchor",),
    ("anchor", "record"),
    ("anchor", "inclusion"),
    ("anchor", "consistency"),
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=3))
def test_junk_in_any_field_never_raises(
    changes: list[tuple[tuple[str, ...], Any]],
) -> None:
    receipt = honest_receipt()
    for path, value in changes:
        target = receipt
        for key in path[:-1]:
            target = target[key] if isinstance(target.get(key), dict) else {}
        target[path[-1]] = value
    assert isinstance(verify(receipt), Report)


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_a_receipt_that_is_pure_junk_fails(junk: Any) -> None:
    receipt = junk if isinstance(junk, dict) else {"leaf": junk}
    report = verify(receipt)
    assert not report.ok


@pytest.mark.parametrize("tag", ["size", "index", "block"])
def test_an_anchor_record_with_a_non_ascii_digit_fails_the_anchor_link(tag: str) -> None:
    receipt = honest_receipt()
    record = sign_anchor_record(MALLORY, ANCHOR, T0 + 60, AUX)
    tags = [[t[0], "²"] if t[0] == tag else list(t) for t in record.tags]
    receipt["anchor"]["record"] = resigned(record, MALLORY, tags=tags)
    assert failed(verify(receipt)) == ["anchor"]


def test_a_proof_with_a_non_string_element_is_malformed() -> None:
    receipt = honest_receipt()
    receipt["inclusion"] = [*receipt["inclusion"], 5]
    assert failed(verify(receipt)) == ["inclusion"]
