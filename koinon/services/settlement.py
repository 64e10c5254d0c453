"""Settles each finished rewards epoch: reads its events, signs a kind-3963 record, keeps the exact
inputs for verifiers, and submits the root to the operator quorum on chain when there is one.

With a chain, the bonds the epoch declares are first read from StakeBonds at the newest block;
each counts for at most what was held there, and that reading is kept and signed with the record
(`koinon.rewards.holdings`)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import orjson

from koinon.core.event import Event, decode_event, sign_event
from koinon.core.filters import parse_filter
from koinon.core.keys import SecretKey
from koinon.pipeline import AcceptPipeline
from koinon.rewards.accounts import payout_address
from koinon.rewards.columns import UpvoteColumns
from koinon.rewards.config import RewardsConfig
from koinon.rewards.events import epoch_columns, epoch_filters
from koinon.rewards.holdings import BondHoldings
from koinon.rewards.model import Bond
from koinon.rewards.params import DEFAULT_PARAMS
from koinon.rewards.settle import collector_paused
from koinon.rewards.settlement import (
    Settlement,
    counted_upvotes,
    inputs_digest,
    record_template,
    settle,
    settle_input,
)
from koinon.rewards.tree import EMPTY_ROOT, BondLeaf
from koinon.store.sqlite import SqliteStore, decode_stored

log = logging.getLogger(__name__)


class EarlierChainWork(Exception):
    """An epoch with bond declarations waits until earlier epochs' chain work is done."""

    def __init__(self, epoch: int, waiting: Sequence[int]) -> None:
        super().__init__(
            f"epoch {epoch} declares bonds; it waits until the chain work of epochs "
            f"{', '.join(map(str, waiting))} is done"
        )
        self.epoch = epoch
        self.waiting = tuple(waiting)


class OnChain(Protocol):
    """What settling needs from the rewards contracts (`koinon.chain.rewards.RewardsClient`)."""

    @property
    def quorum(self) -> Quorum: ...

    @property
    def bonds(self) -> Bonds: ...


class Quorum(Protocol):
    def submit_root(self, epoch: int, root: bytes, total: int) -> object: ...

    def finalized(self, epoch: int) -> object | None: ...


class Bonds(Protocol):
    def bond_of(
        self, event_id: bytes, owner: str | bytes | None = None, *, block: int | None = None
    ) -> int: ...

    def block_number(self) -> int: ...

    def is_settled(self, event_id: bytes, owner: str | bytes | None = None) -> bool: ...

    def settle(self, leaf: BondLeaf, proof: Sequence[bytes]) -> object: ...


class SettlementService:
    """Settles epochs once `delay` seconds have passed after their end (late events replicate)."""

    def __init__(
        self,
        store: SqliteStore,
        pipeline: AcceptPipeline,
        key: SecretKey,
        config: RewardsConfig,
        folder: Path,
        clock: Callable[[], float],
        random_bytes: Callable[[int], bytes],
        *,
        delay: float,
        chain: OnChain | None = None,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.key = key
        self.config = config
        self.folder = folder
        self.clock = clock
        self.random_bytes = random_bytes
        self.delay = delay
        self.chain = chain
        self._lock = asyncio.Lock()

    def inputs_path(self, epoch: int) -> Path:
        """The file holding the events epoch `epoch` was settled from, one JSON per line."""
        return self.folder / f"epoch-{epoch}.events.jsonl"

    def holdings_path(self, epoch: int) -> Path:
        """The file holding the chain's bond holdings epoch `epoch` was capped by (with a chain)."""
        return self.folder / f"epoch-{epoch}.holdings.json"

    def upvotes_path(self, epoch: int) -> Path:
        """The file holding the upvotes epoch `epoch` counted, which later epochs read."""
        return self.folder / f"epoch-{epoch}.upvotes.bin"

    def upvote_inputs_path(self, epoch: int) -> Path:
        """The file holding the events epoch `epoch`'s upvotes were counted from, when a later
        epoch needed them before this node settled `epoch` (otherwise its inputs are those)."""
        return self.folder / f"epoch-{epoch}.upvote-events.jsonl"

    def record_path(self, epoch: int) -> Path:
        """The file holding the signed settlement record of epoch `epoch`."""
        return self.folder / f"epoch-{epoch}.record.json"

    def due(self) -> int:
        """The newest epoch whose end is at least `delay` seconds in the past (-1 for none)."""
        return self.config.epoch_at(int(self.clock() - self.delay)) - 1

    async def inputs(self, epoch: int) -> list[Event] | None:
        """The events epoch `epoch` was settled from, or None when it was not settled here."""
        try:
            data = await asyncio.to_thread(self.inputs_path(epoch).read_bytes)
        except FileNotFoundError:
            return None
        # the node wrote these lines from its store: parsed, not verified again (a verifier
        # checks every one it is served: koinon.rewards.audit)
        return await asyncio.to_thread(_read_stored, data.splitlines())

    async def upvote_inputs(self, epoch: int) -> list[Event] | None:
        """The events the upvotes of epoch `epoch` that later epochs read were counted from:
        its settled inputs, or what the store held when a later epoch first needed them."""
        try:
            data = await asyncio.to_thread(self.upvote_inputs_path(epoch).read_bytes)
        except FileNotFoundError:
            return await self.inputs(epoch) if self.record_path(epoch).exists() else None
        return await asyncio.to_thread(_read_stored, data.splitlines())

    async def holdings(self, epoch: int) -> BondHoldings | None:
        """The bond holdings epoch `epoch` was settled with, or None (no chain, or not settled)."""
        try:
            data = await asyncio.to_thread(self.holdings_path(epoch).read_bytes)
        except FileNotFoundError:
            return None
        return BondHoldings.parse(orjson.loads(data))

    async def record(self, epoch: int) -> Event | None:
        """The node's signed record of epoch `epoch`, if it settled it."""
        try:
            data = await asyncio.to_thread(self.record_path(epoch).read_bytes)
        except FileNotFoundError:
            return None
        return decode_event(data)

    async def earlier_upvotes(self, epoch: int) -> list[UpvoteColumns]:
        """The upvotes counted by each epoch the ring detector of `epoch` reads, oldest first:
        kept when this node settled them, else counted from their kept inputs or the store."""
        first = max(0, epoch - (DEFAULT_PARAMS.ring_epochs - 1))
        found: list[UpvoteColumns] = []
        for earlier in range(first, epoch):
            path = self.upvotes_path(earlier)
            try:
                data = await asyncio.to_thread(path.read_bytes)
            except FileNotFoundError:
                events = await self.upvote_inputs(earlier)
                if events is None:  # never settled here: counted from the store, once
                    filters = [parse_filter(raw) for raw in epoch_filters(self.config, earlier)]
                    stored = await self.store.query_all(filters)
                    lines = b"".join(raw + b"\n" for raw in sorted(stored))
                    await asyncio.to_thread(_write_atomic, self.upvote_inputs_path(earlier), lines)
                    events = await asyncio.to_thread(_read_stored, stored)
                columns = await asyncio.to_thread(epoch_columns, events, self.config, earlier)
                upvotes = await asyncio.to_thread(counted_upvotes, columns)
                await asyncio.to_thread(_write_atomic, path, upvotes.to_bytes())
                found.append(upvotes)
            else:
                found.append(await asyncio.to_thread(UpvoteColumns.from_bytes, data))
        return found

    async def settle(self, epoch: int) -> Settlement:
        """Settle `epoch`, publish the record and submit the root; once settled, an epoch stays
        as it was (asking again recomputes it from the kept inputs, publishing nothing new)."""
        async with self._lock:
            kept = await self.inputs(epoch)
            earlier = await self.earlier_upvotes(epoch)
            if kept is not None and self.record_path(epoch).exists():
                holdings = await self.holdings(epoch)
                settlement = await asyncio.to_thread(
                    settle, kept, self.config, epoch, None, holdings, earlier
                )
                await self._finish_on_chain(settlement)
                return settlement
            filters = [parse_filter(raw) for raw in epoch_filters(self.config, epoch)]
            found = await self.store.query_all(filters)
            # every stored event was verified when it arrived; checking a million signatures
            # again would take minutes (~0.1 ms each)
            events = await asyncio.to_thread(_read_stored, found)
            settlement = await asyncio.to_thread(self._settle_reading_bonds, events, epoch, earlier)
            kind, content, tags = record_template(settlement, self.config)
            record = sign_event(
                self.key.raw,
                kind=kind,
                content=content,
                tags=tags,
                created_at=int(self.clock()),
                aux_rand=self.random_bytes(32),
            )
            lines = b"".join(raw + b"\n" for raw in sorted(found))
            await asyncio.to_thread(_write_atomic, self.inputs_path(epoch), lines)
            if settlement.holdings is not None:
                kept_holdings = orjson.dumps(settlement.holdings.to_json())
                await asyncio.to_thread(_write_atomic, self.holdings_path(epoch), kept_holdings)
            else:  # one left by an attempt that stopped before its record must not count
                await asyncio.to_thread(self.holdings_path(epoch).unlink, missing_ok=True)
            if not self.upvotes_path(epoch).exists():  # later epochs may have read others
                kept_upvotes = settlement.upvotes.to_bytes()
                await asyncio.to_thread(_write_atomic, self.upvotes_path(epoch), kept_upvotes)
            await asyncio.to_thread(_write_atomic, self.record_path(epoch), record.to_json())
            await self.pipeline.accept(record)
            log.info("settled epoch %d: root %s", epoch, settlement.root.hex())
            await self._finish_on_chain(settlement)
            return settlement

    def _settle_reading_bonds(
        self, events: list[Event], epoch: int, earlier: Sequence[UpvoteColumns]
    ) -> Settlement:
        """Settle `events`, first reading the chain's holdings of the declared bonds (if any).

        A bond an earlier epoch slashed or released reads as 0 once that epoch's bonds are
        settled on chain; read before, it would count twice (two writers' shares minted for one
        burn). So an epoch with declarations waits until every earlier epoch's chain work is done.
        """
        with collector_paused():  # millions of small objects, none of them in a cycle
            columns = epoch_columns(events, self.config, epoch)
            holdings = None
            if self.chain is not None and columns.bonds:  # an epoch without bonds pins nothing
                waiting = self.unfinished(epoch)
                if waiting:
                    raise EarlierChainWork(epoch, waiting)
                holdings = read_holdings(self.chain.bonds, columns.bonds)
            digest = inputs_digest(events)
            return settle_input(columns, digest, holdings=holdings, earlier=earlier)

    def unfinished(self, before: int | None = None) -> list[int]:
        """Epochs (before `before`, if given) that this node settled and whose chain work is not
        done yet, oldest first (none without a chain)."""
        if self.chain is None:
            return []
        found = []
        for path in self.folder.glob("epoch-*.record.json"):
            number = path.name.removeprefix("epoch-").removesuffix(".record.json")
            done = number.isdigit() and self.submitted_path(int(number)).exists()
            if number.isdigit() and (before is None or int(number) < before) and not done:
                found.append(int(number))
        return sorted(found)

    def submitted_path(self, epoch: int) -> Path:
        """The marker written once an epoch's root is final on chain and its bonds settled."""
        return self.folder / f"epoch-{epoch}.onchain"

    async def _finish_on_chain(self, settlement: Settlement) -> None:
        """Submit the root to the quorum and, once it is final, settle the epoch's bonds."""
        chain, epoch = self.chain, settlement.epoch
        if chain is None or self.submitted_path(epoch).exists():
            return
        if settlement.root == EMPTY_ROOT:  # nothing to pay or settle: the chain work is done
            await asyncio.to_thread(_write_atomic, self.submitted_path(epoch), b"")
            return
        await asyncio.to_thread(chain.quorum.submit_root, epoch, settlement.root, settlement.total)
        if await asyncio.to_thread(chain.quorum.finalized, epoch) is None:
            return  # other operators have yet to agree; the next round tries again
        for leaf in settlement.bonds:
            bonded = await asyncio.to_thread(chain.bonds.bond_of, leaf.event_id, leaf.owner)
            if bonded and not await asyncio.to_thread(
                chain.bonds.is_settled, leaf.event_id, leaf.owner
            ):
                await asyncio.to_thread(chain.bonds.settle, leaf, settlement.proof(leaf))
        await asyncio.to_thread(_write_atomic, self.submitted_path(epoch), b"")

    async def run(self, interval: float) -> None:
        """Settle each epoch as it becomes due, for as long as the node runs."""
        while True:
            await asyncio.sleep(interval)
            await self.round()

    async def round(self) -> None:
        """One round: retry the chain work other epochs left undone, oldest first, then settle
        the epoch that is due (or retry its chain work)."""
        epoch = self.due()
        for other in self.unfinished():
            if other != epoch:
                await self._attempt(other)
        if epoch >= 0 and not (
            self.record_path(epoch).exists()
            and (self.chain is None or self.submitted_path(epoch).exists())
        ):
            await self._attempt(epoch)

    async def _attempt(self, epoch: int) -> None:
        try:
            await self.settle(epoch)
        except EarlierChainWork as waiting:
            log.info("%s", waiting)
        except Exception:
            log.exception("settling epoch %d failed", epoch)


def read_holdings(bonds: Bonds, declared: Sequence[Bond]) -> BondHoldings:
    """What StakeBonds holds, at its newest block, for each of the `declared` bonds.

    Bonds only grow until settled, so what was held at the block is still there when the epoch's
    bonds are settled, unless an earlier epoch settled the bond first (docs/decisions.md).
    """
    block = bonds.block_number()
    return BondHoldings.of(
        block,
        (
            (
                bond.event_id,
                bond.owner,
                bonds.bond_of(
                    bytes.fromhex(bond.event_id),
                    payout_address(bytes.fromhex(bond.owner)),
                    block=block,
                ),
            )
            for bond in declared
        ),
    )


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def _read_stored(lines: Sequence[bytes]) -> list[Event]:
    """Events from JSON lines of the node's own store, parsed without checking signatures."""
    return [decode_stored(line) for line in lines if line]
