"""One epoch settled from its events: the mechanism's payouts and slashes as a settlement tree.

`settle(events, config, epoch)` is what a node runs and what `koinon rewards verify-epoch`
recomputes; the same events in any order give the same root. The node signs the outcome as a
kind-3963 settlement record (`docs/protocol.md`), and the operator quorum finalizes its root on
chain, where the `RewardDistributor` pays claims and `StakeBonds` settles bonds against it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from koinon.core.event import Event, is_hex
from koinon.errors import invalid
from koinon.rewards.accounts import payout_address
from koinon.rewards.arrays import from_input, upvotes_of
from koinon.rewards.columns import EpochColumns, UpvoteColumns
from koinon.rewards.config import RewardsConfig
from koinon.rewards.events import epoch_columns
from koinon.rewards.holdings import BondHoldings, cap_bonds
from koinon.rewards.model import EpochInput, EpochResult
from koinon.rewards.order import word_order
from koinon.rewards.params import Params
from koinon.rewards.settle import collector_paused, settle_counting
from koinon.rewards.tree import BondLeaf, PayoutLeaf, Proof, SettlementTree

SETTLEMENT_RECORD = 3963


@dataclass(frozen=True)
class Settlement:
    """An epoch's result with its tree: what the quorum finalizes and claims are proved against."""

    epoch: int
    result: EpochResult
    payouts: tuple[PayoutLeaf, ...]
    bonds: tuple[BondLeaf, ...]
    tree: SettlementTree
    inputs: str  # hex SHA-256 over the sorted ids of the events that were settled
    holdings: BondHoldings | None = None  # the chain's bonds it was capped by (none: no chain)
    # the upvotes this epoch counted, which the ring detector of the epochs after it reads
    upvotes: UpvoteColumns = dataclasses.field(default_factory=UpvoteColumns)
    earlier: tuple[str, ...] = ()  # `upvotes_digest` of each earlier epoch read, oldest first

    @property
    def upvotes_digest(self) -> str:
        """The digest of `upvotes` (`upvotes_digest`)."""
        return upvotes_digest(self.upvotes)

    @property
    def root(self) -> bytes:
        """The settlement root (32 zero bytes when nothing is owed)."""
        return self.tree.root

    @property
    def total(self) -> int:
        """The sum of all payouts: the most the distributor mints for this epoch."""
        return sum(leaf.amount for leaf in self.payouts)

    def payout_of(self, pubkey: str) -> PayoutLeaf | None:
        """The payout leaf of the user with x-only key `pubkey`, if they earned anything."""
        account = payout_address(bytes.fromhex(pubkey))
        return next((leaf for leaf in self.payouts if leaf.account == account), None)

    def proof(self, leaf: PayoutLeaf | BondLeaf) -> Proof:
        """The proof of one of this settlement's leaves."""
        return self.tree.proof(leaf)


def inputs_digest(events: Iterable[Event]) -> str:
    """A digest of which events were settled: SHA-256 over their sorted, concatenated ids."""
    ids = [event.id for event in events]
    # each id as a row of four big-endian words: sorting rows as numbers sorts the bytes, which
    # sorts the lowercase hex
    words = np.frombuffer(bytes.fromhex("".join(ids)), dtype=">u8").reshape(-1, 4)
    order, first = word_order(words[:, 0].astype(np.uint64))
    rows = np.take(words, order, axis=0)  # rows of a 2-D array: faster than words[order]
    shared = first[1:] == first[:-1]
    if shared.any():  # a repeated id, or two that share their first 8 bytes
        # only the runs of rows that share a first word need the other words: sorted together
        # by all four, each run stays in its place (the runs' first words are in order)
        tied = np.zeros(rows.shape[0], dtype=bool)
        tied[:-1] |= shared
        tied[1:] |= shared
        at = np.flatnonzero(tied)
        run = rows[at]
        rows[at] = run[np.lexsort((run[:, 3], run[:, 2], run[:, 1], run[:, 0]))]
        rows = rows[np.r_[True, (rows[1:] != rows[:-1]).any(axis=1)]]
    # otherwise every first word differs, so every id does; hashed without a copy to bytes
    return hashlib.sha256(np.ascontiguousarray(rows).data).hexdigest()


def upvotes_digest(upvotes: UpvoteColumns) -> str:
    """The digest a settlement record names for upvotes (`UpvoteColumns.digest`)."""
    return upvotes.digest()


def counted_upvotes(columns: EpochColumns) -> UpvoteColumns:
    """The upvotes an epoch counts (`settle_counting`), without settling it."""
    with collector_paused():
        arrays, accounts, _ = from_input(columns)
        return upvotes_of(arrays, accounts)


def settle_input(
    epoch_in: EpochInput | EpochColumns,
    inputs: str,
    params: Params | None = None,
    holdings: BondHoldings | None = None,
    earlier: Sequence[UpvoteColumns] = (),
) -> Settlement:
    """Settle an already-read epoch input (the simulation and benchmarks start here).

    With `holdings`, each declared bond counts for at most what the chain held for it, and one
    with nothing held counts not at all (no slash, no leaf); without, as declared (a node with no
    chain pays nothing out). `earlier` are the upvotes counted by each epoch the ring detector
    reads before this one (`Params.ring_epochs` - 1 of them, oldest first; fewer near genesis).
    """
    params = params or Params()
    if len(earlier) > params.ring_epochs - 1:
        raise invalid(f"the ring detector reads at most {params.ring_epochs - 1} earlier epochs")
    columns = epoch_in if isinstance(epoch_in, EpochColumns) else EpochColumns.of(epoch_in)
    if holdings is not None:
        columns = dataclasses.replace(columns, bonds=cap_bonds(columns.bonds, holdings))
    if earlier:
        columns = dataclasses.replace(columns, earlier=UpvoteColumns.joined(earlier))
    result, upvotes = settle_counting(columns, params)
    payouts = tuple(
        PayoutLeaf(result.epoch, payout_address(bytes.fromhex(p.pubkey)), p.amount)
        for p in result.payouts
        if p.amount > 0
    )
    slashed = {(s.event_id, s.owner): s.amount for s in result.slashes}
    bonds = tuple(
        BondLeaf(
            result.epoch,
            bytes.fromhex(bond.event_id),
            payout_address(bytes.fromhex(bond.owner)),
            slashed.get((bond.event_id, bond.owner), 0),
        )
        for bond in sorted(columns.bonds, key=lambda b: (b.event_id, b.owner))
    )
    tree = SettlementTree.of((*payouts, *bonds))
    read = tuple(map(upvotes_digest, earlier))
    return Settlement(result.epoch, result, payouts, bonds, tree, inputs, holdings, upvotes, read)


def settle(
    events: Iterable[Event],
    config: RewardsConfig,
    epoch: int,
    params: Params | None = None,
    holdings: BondHoldings | None = None,
    earlier: Sequence[UpvoteColumns] = (),
) -> Settlement:
    """Settle `epoch` from verified `events` under `config`; the order of `events` is irrelevant.

    `holdings` caps the declared bonds by what the chain held, and `earlier` are the upvotes
    the epochs before counted (`settle_input`).
    """
    with collector_paused():  # millions of small objects, none of them in a cycle
        chosen = list(events)
        columns = epoch_columns(chosen, config, epoch)
        return settle_input(columns, inputs_digest(chosen), params, holdings, earlier)


@dataclass(frozen=True)
class SettlementRecord:
    """What a node's kind-3963 event states about an epoch it settled."""

    node: str
    epoch: int
    root: bytes
    total: int
    payouts: int
    inputs: str
    event_id: str
    holdings: tuple[int, str] | None = None  # (block, digest) of the bond holdings it pinned
    upvotes: str = ""  # digest of the upvotes it counted ("" in a record without the tag)
    earlier: tuple[str, ...] = ()  # digests of the earlier epochs' upvotes it read


def record_template(
    settlement: Settlement, config: RewardsConfig
) -> tuple[int, str, list[list[str]]]:
    """(kind, content, tags) of the node's settlement record; sign it with the node key."""
    tags = [
        ["epoch", str(settlement.epoch)],
        ["root", settlement.root.hex()],
        ["total", str(settlement.total)],
        ["payouts", str(len(settlement.payouts))],
        ["inputs", settlement.inputs],
        ["pool", str(config.pool_per_epoch)],
    ]
    if settlement.holdings is not None:
        holdings = settlement.holdings
        tags.append(["bonds", str(holdings.block), holdings.digest()])
    tags.append(["upvotes", settlement.upvotes_digest])
    if settlement.earlier:
        tags.append(["earlier", *settlement.earlier])
    return SETTLEMENT_RECORD, "", tags


def parse_record(event: Event) -> SettlementRecord:
    """Read a settlement record; raises `Rejected` (invalid) when it is not a well-formed one."""
    if event.kind != SETTLEMENT_RECORD:
        raise invalid(f"a settlement record is kind {SETTLEMENT_RECORD}")
    values = {
        name: event.first_tag(name) for name in ("epoch", "root", "total", "payouts", "inputs")
    }
    for name in ("epoch", "total", "payouts"):
        value = values[name]
        if value is None or not (value.isascii() and value.isdigit()):
            raise invalid(f"settlement record {name} must be a decimal integer")
    root, inputs = values["root"], values["inputs"]
    if not is_hex(root, 64) or not is_hex(inputs, 64):
        raise invalid("settlement record root and inputs must be 64 hex characters")
    holdings = None
    bonds = next((tag for tag in event.tags if tag and tag[0] == "bonds"), None)
    if bonds is not None:
        if not (len(bonds) >= 3 and bonds[1].isascii() and bonds[1].isdigit()):
            raise invalid("settlement record bonds must name a block number and a digest")
        if not is_hex(bonds[2], 64):
            raise invalid("settlement record bonds digest must be 64 hex characters")
        holdings = (int(bonds[1]), bonds[2])
    upvotes = event.first_tag("upvotes") or ""
    if upvotes and not is_hex(upvotes, 64):
        raise invalid("settlement record upvotes digest must be 64 hex characters")
    earlier = next((tuple(tag[1:]) for tag in event.tags if tag and tag[0] == "earlier"), ())
    if not all(is_hex(digest, 64) for digest in earlier):
        raise invalid("settlement record earlier digests must be 64 hex characters each")
    return SettlementRecord(
        node=event.pubkey,
        epoch=int(values["epoch"] or 0),
        root=bytes.fromhex(str(root)),
        total=int(values["total"] or 0),
        payouts=int(values["payouts"] or 0),
        inputs=str(inputs),
        event_id=event.id,
        holdings=holdings,
        upvotes=upvotes,
        earlier=earlier,
    )
