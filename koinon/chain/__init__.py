"""Koinon on an EVM chain (the embedded py-evm chain or any JSON-RPC node): anchoring tree
heads, and the rewards contracts (KOIN, operator quorum, distributor, bonds)."""

from koinon.chain.calls import CallReceipt
from koinon.chain.client import AnchorClient
from koinon.chain.connection import connect, operator_address
from koinon.chain.errors import (
    AnchorNotFound,
    AnchorRejected,
    ChainError,
    ChainUnavailable,
    ContractRejected,
    RewardsRejected,
)
from koinon.chain.quorum import FinalizedRoot, RootSubmission
from koinon.chain.records import AnchorReceipt, AnchorRecord
from koinon.chain.rewards import RewardsClient, connect_rewards, rewards_beside
from koinon.chain.rewards_deployment import RewardsAddresses

__all__ = [
    "AnchorClient",
    "AnchorNotFound",
    "AnchorReceipt",
    "AnchorRecord",
    "AnchorRejected",
    "CallReceipt",
    "ChainError",
    "ChainUnavailable",
    "ContractRejected",
    "FinalizedRoot",
    "RewardsAddresses",
    "RewardsClient",
    "RewardsRejected",
    "RootSubmission",
    "connect",
    "connect_rewards",
    "operator_address",
    "rewards_beside",
]
