"""The composition root: builds a node from `Settings`, the real clock and the real randomness."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from koinon.api.franking import FrankingApi
from koinon.api.ledger import LedgerApi
from koinon.api.rewards import RewardsApi
from koinon.api.routes import Api
from koinon.core.keys import SecretKey
from koinon.errors import KoinonError
from koinon.pipeline import AcceptPipeline, SignatureChecker
from koinon.relay.info import relay_information
from koinon.relay.server import TRANSPORT_LIMIT_FACTOR, Relay
from koinon.rewards.config import RewardsConfig
from koinon.services.heads import TreeHeadService
from koinon.services.settlement import SettlementService
from koinon.settings import Settings
from koinon.store.log import LogError
from koinon.store.sqlite import SqliteStore

if TYPE_CHECKING:  # the chain stack (web3, py-evm) is imported only by nodes that anchor
    from koinon.chain import AnchorClient
    from koinon.services.anchoring import AnchoringService

log = logging.getLogger(__name__)

SWITCH_INTERVAL = 0.0005


class NodeError(KoinonError):
    """The node cannot start (port taken, data folder unusable, key unreadable)."""


def load_node_key(path: Path, random_bytes: Callable[[int], bytes]) -> SecretKey:
    """The node's identity key, created on first start and kept readable only by its owner."""
    if path.exists():
        try:
            return SecretKey(bytes.fromhex(path.read_text().strip()))
        except (ValueError, KoinonError) as exc:
            raise NodeError(f"node key {path} is unreadable") from exc
    key = SecretKey.generate(random_bytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise NodeError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class Node:
    """A running Koinon node: store, pipeline, relay and HTTP API on one port."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.random_bytes = random_bytes
        self._runner: web.AppRunner | None = None
        self._store: SqliteStore | None = None
        self._checker: SignatureChecker | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._chain: AnchorClient | None = None
        self.anchoring: AnchoringService | None = None
        self.settlement: SettlementService | None = None

    @property
    def ws_url(self) -> str:
        """The websocket address clients connect to."""
        return self.settings.public_url

    @property
    def http_url(self) -> str:
        """The HTTP address of the API and the NIP-11 document."""
        return "http" + self.settings.public_url[2:]

    async def start(self) -> None:
        """Open the store, bind the port and start serving."""
        try:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NodeError(f"cannot create data folder {self.settings.data_dir}") from exc
        sock = _bind(self.settings.host, self.settings.port)
        try:
            await self._start_on(sock)
        except BaseException:
            sock.close()
            await self.stop()
            raise

    async def _start_on(self, sock: socket.socket) -> None:
        self.settings = dataclasses.replace(self.settings, port=sock.getsockname()[1])
        key = load_node_key(self.settings.data_dir / "node.key", self.random_bytes)
        limits = self.settings.limits
        store = SqliteStore(
            self.settings.database_path,
            default_limit=limits.default_limit,
            max_limit=limits.max_limit,
            clock=self.clock,
            node_pubkey=key.public_key,
        )
        self._store = store
        try:
            store.check_log()
        except LogError as exc:
            raise NodeError(f"refusing to start: {exc}") from exc
        self.key = key
        self._checker = SignatureChecker()
        await self._checker.start()
        pipeline = AcceptPipeline(store, limits, self.clock, self._checker)
        self.heads = TreeHeadService(store, pipeline, key, self.clock, self.random_bytes)
        relay = Relay(self.settings, pipeline, store, self.clock, self.random_bytes)
        info = relay_information(self.settings, key.public_key)
        api = Api(pipeline, store, info, relay.handle, limits.max_message_bytes)
        ledger_info: dict[str, object] = {"node": key.public_key}
        app = web.Application(client_max_size=limits.max_message_bytes * TRANSPORT_LIMIT_FACTOR)
        if self.settings.anchoring:
            from koinon.api.chain import ChainApi
            from koinon.services.anchoring import AnchoringService

            chain = await self._open_chain(key)
            self.anchoring = AnchoringService(
                store, self.heads, chain, pipeline, key, self.clock, self.random_bytes
            )
            ledger_info["chain"] = {
                "chain_id": chain.chain_id,
                "contract": str(chain.contract_address),
                "operator": str(chain.operator_address),
                "backend": chain.backend_kind,
            }
            app.add_routes(ChainApi(chain).routes())
        ledger = LedgerApi(store, self.heads.sign_now, ledger_info)
        app.add_routes(api.routes())
        app.add_routes(ledger.routes())
        if self.settings.rewards:
            self.settlement = await self._settlement_service(store, pipeline, key, ledger_info)
            app.add_routes(RewardsApi(self.settlement, ledger_info.get("rewards")).routes())
        stamps = FrankingApi(key.raw, self.http_url, self.clock, self.random_bytes)
        app.add_routes(stamps.routes())
        self._tasks.append(asyncio.create_task(self.heads.run(self.settings.head_interval)))
        if self.anchoring is not None:
            self._tasks.append(
                asyncio.create_task(self.anchoring.run(self.settings.anchor_interval))
            )
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def _settlement_service(
        self,
        store: SqliteStore,
        pipeline: AcceptPipeline,
        key: SecretKey,
        ledger_info: dict[str, object],
    ) -> SettlementService:
        settings = self.settings
        config = RewardsConfig(
            genesis=settings.rewards_genesis,
            epoch_seconds=settings.epoch_seconds,
            pool_per_epoch=settings.pool_per_epoch,
            trust_seeds=settings.trust_seeds,
            note_labelers=settings.note_labelers or (key.public_key,),
        )
        contracts = None
        if self._chain is not None:
            from koinon.chain import ChainError
            from koinon.chain.rewards import rewards_beside

            try:
                contracts = await asyncio.to_thread(
                    rewards_beside, self._chain, key.raw, data_dir=settings.data_dir / "chain"
                )
            except ChainError as exc:
                raise NodeError(f"cannot open the rewards contracts: {exc}") from exc
            ledger_info["rewards"] = {
                "chain_id": contracts.chain_id,
                "contracts": contracts.addresses.as_json(),
            }
        service = SettlementService(
            store,
            pipeline,
            key,
            config,
            settings.data_dir / "rewards",
            self.clock,
            self.random_bytes,
            delay=settings.settle_delay,
            chain=contracts,
        )
        self._tasks.append(asyncio.create_task(service.run(settings.settle_interval)))
        return service

    async def _open_chain(self, key: SecretKey) -> AnchorClient:
        from koinon.chain import ChainError
        from koinon.chain import connect as connect_chain

        try:
            chain = await asyncio.to_thread(
                connect_chain,
                self.settings.data_dir / "chain",
                self.settings.chain_rpc,
                key.raw,
                contract=self.settings.chain_contract,
                clock=self.clock,
            )
        except ChainError as exc:
            raise NodeError(f"cannot open the chain: {exc}") from exc
        self._chain = chain
        return chain

    async def stop(self) -> None:
        """Close connections, flush the store."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._checker is not None:
            await self._checker.close()
            self._checker = None
        if self._store is not None:
            await self._store.close()
            self._store = None
        if self._chain is not None:
            await asyncio.to_thread(self._chain.close)
            self._chain = None


async def serve(settings: Settings, on_ready: Callable[[Node], None]) -> None:
    """Run a node until SIGINT or SIGTERM."""
    # The store's threads give up the GIL around every SQLite step; with the default 5 ms switch
    # interval a busy event loop makes each of them wait that long to get it back.
    sys.setswitchinterval(SWITCH_INTERVAL)
    node = Node(settings)
    await node.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    on_ready(node)
    try:
        await stop.wait()
    finally:
        await node.stop()
