"""Anchoring tree heads on an EVM chain: the embedded py-evm chain or any JSON-RPC node."""

from koinon.chain.client import AnchorClient
from koinon.chain.connection import connect, operator_address
from koinon.chain.errors import (
    AnchorNotFound,
    AnchorRejected,
    ChainError,
    ChainUnavailable,
)
from koinon.chain.records import AnchorReceipt, AnchorRecord

__all__ = [
    "AnchorClient",
    "AnchorNotFound",
    "AnchorReceipt",
    "AnchorRecord",
    "AnchorRejected",
    "ChainError",
    "ChainUnavailable",
    "connect",
    "operator_address",
]
