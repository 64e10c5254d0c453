"""Checking a node's settlement of an epoch from its published inputs: every signature, the inputs
digest, the bond holdings it pinned, then the whole settlement recomputed and compared with the
node's signed record. Whether the holdings are what the chain held at their block is the
caller's to check (`koinon rewards verify-epoch` re-reads them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from koinon.core.event import Event, verify_event
from koinon.errors import KoinonError, Rejected
from koinon.rewards.config import RewardsConfig
from koinon.rewards.events import epoch_columns
from koinon.rewards.holdings import BondHoldings
from koinon.rewards.params import DEFAULT_PARAMS
from koinon.rewards.settlement import (
    Settlement,
    SettlementRecord,
    counted_upvotes,
    inputs_digest,
    parse_record,
    settle_input,
    upvotes_digest,
)


class SettlementMismatch(KoinonError):
    """The node's settlement does not follow from the events it says it settled."""


@dataclass(frozen=True)
class AuditedEpoch:
    """An epoch whose record was recomputed and matched."""

    record: SettlementRecord
    settlement: Settlement


def audit_epoch(
    config: RewardsConfig,
    node: str,
    record_event: Event,
    events: Sequence[Event],
    epoch: int,
    holdings: BondHoldings | None = None,
    earlier: Sequence[Sequence[Event]] = (),
) -> AuditedEpoch:
    """Recompute epoch `epoch` from `events` and check it against the node's `record_event`.

    `holdings` are the bond holdings the node served with the epoch; they must be the ones its
    record signs and name exactly the bonds the epoch declares. `earlier` are the inputs the
    node served for each epoch the ring detector read before this one, oldest first: the
    upvotes each counted must be the ones the record names.

    Raises `SettlementMismatch` naming the first check that fails.
    """
    try:
        verify_event(record_event)
        record = parse_record(record_event)
    except Rejected as exc:
        raise SettlementMismatch(f"the settlement record is not valid: {exc.message}") from None
    if record.node != node:
        raise SettlementMismatch("the settlement record is not signed by the node's key")
    if record.epoch != epoch:
        raise SettlementMismatch(f"the record is for epoch {record.epoch}, not {epoch}")
    for event in (*events, *(event for inputs in earlier for event in inputs)):
        try:
            verify_event(event)
        except Rejected as exc:
            raise SettlementMismatch(
                f"input event {event.id} is not valid: {exc.message}"
            ) from None
    digest = inputs_digest(events)
    if digest != record.inputs:
        raise SettlementMismatch("the published inputs are not the ones the record names")
    if (holdings is None) != (record.holdings is None):
        raise SettlementMismatch(
            "the record pins bond holdings the node did not serve"
            if holdings is None
            else "the node served bond holdings its record does not pin"
        )
    if holdings is not None and record.holdings != (holdings.block, holdings.digest()):
        raise SettlementMismatch("the served bond holdings are not the ones the record names")
    columns = epoch_columns(events, config, epoch)
    declared = sorted({(bond.event_id, bond.owner) for bond in columns.bonds})
    if holdings is not None and holdings.bonds() != declared:
        raise SettlementMismatch("the bond holdings do not cover exactly the declared bonds")
    reads = min(DEFAULT_PARAMS.ring_epochs - 1, epoch)
    if len(record.earlier) != reads:  # fewer would hide a ring that shows over several epochs
        raise SettlementMismatch(
            f"the record names {len(record.earlier)} earlier epochs' upvotes, not {reads}"
        )
    upvotes = [
        counted_upvotes(epoch_columns(inputs, config, epoch - len(earlier) + at))
        for at, inputs in enumerate(earlier)
    ]
    if tuple(map(upvotes_digest, upvotes)) != record.earlier:
        raise SettlementMismatch("the earlier epochs' upvotes are not the ones the record names")
    settlement = settle_input(columns, digest, holdings=holdings, earlier=upvotes)
    if settlement.root != record.root:
        raise SettlementMismatch(
            f"recomputed root {settlement.root.hex()} differs from the record's {record.root.hex()}"
        )
    if (settlement.total, len(settlement.payouts)) != (record.total, record.payouts):
        raise SettlementMismatch("the record's totals differ from the recomputed settlement")
    if settlement.upvotes_digest != record.upvotes:
        raise SettlementMismatch("the record's counted upvotes differ from the recomputed ones")
    return AuditedEpoch(record, settlement)
