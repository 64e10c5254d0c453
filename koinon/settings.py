"""Node configuration: one frozen value, built once by the composition root and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """What one client may send; every limit is published in the NIP-11 document."""

    max_message_bytes: int = 262_144
    max_content_bytes: int = 131_072
    max_event_tags: int = 2_000
    max_subscriptions: int = 20
    max_filters: int = 10
    max_filter_values: int = 1_000
    max_subid_length: int = 64
    max_future_seconds: int = 900
    default_limit: int = 500
    max_limit: int = 5_000
    min_pow: int = 0
    events_per_second: float = 1_000.0
    event_burst: int = 10_000
    max_inflight_events: int = 1_024
    auth_required_for_write: bool = False
    auth_required_for_read: bool = False


@dataclass(frozen=True)
class Settings:
    """Everything a node needs to start."""

    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = 7447
    name: str = "Koinon node"
    description: str = "A Koinon node: Nostr-compatible relay of a social network nobody owns."
    contact: str = ""
    head_interval: float = 1.0
    anchoring: bool = True
    anchor_interval: float = 10.0
    chain_rpc: str | None = None
    chain_contract: str | None = None
    limits: Limits = field(default_factory=Limits)
    rewards: bool = True
    rewards_genesis: int = 1_767_225_600  # 2026-01-01T00:00:00Z
    epoch_seconds: int = 86_400
    pool_per_epoch: int = 10_000 * 10**18  # base units of KOIN (18 decimals)
    trust_seeds: tuple[str, ...] = ()
    note_labelers: tuple[str, ...] = ()  # empty: the node's own key
    settle_delay: float = 600.0  # seconds after an epoch ends, for late events to replicate
    settle_interval: float = 30.0

    @property
    def database_path(self) -> Path:
        """The SQLite file holding events."""
        return self.data_dir / "events.sqlite3"

    @property
    def public_url(self) -> str:
        """The websocket URL clients use (and that NIP-42 AUTH events must name)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"
