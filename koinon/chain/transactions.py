"""Sending a transaction: signed locally (EIP-1559) with a fixed gas limit, then its receipt.

Gas limits are fixed per kind of call rather than estimated: eth-tester's estimates are loose
and an estimate costs one more round trip on RPC. The limits leave room above what the calls
were measured to use (docs/chain.md).
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from web3 import Web3
from web3.types import TxParams, TxReceipt, Wei

TRANSFER_GAS = 21_000
RECEIPT_POLL_SECONDS = 0.05
DEFAULT_TIP = Wei(1_000_000_000)


def fees(w3: Web3) -> tuple[Wei, Wei]:
    """(max fee, priority fee) per gas: twice the latest base fee plus the node's suggested tip."""
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0))
    try:
        tip = w3.eth.max_priority_fee
    except ValueError:  # a node without eth_maxPriorityFeePerGas
        tip = DEFAULT_TIP
    return Wei(2 * base_fee + tip), tip


def send(w3: Web3, account: LocalAccount, tx: TxParams, *, gas: int, timeout: float) -> TxReceipt:
    """Sign `tx` with `account`, send it and wait at most `timeout` seconds for its receipt."""
    max_fee, tip = fees(w3)
    full: TxParams = {
        **tx,
        "from": account.address,
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "gas": gas,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": tip,
        "type": 2,
    }
    signed = account.sign_transaction(dict(full))  # type: ignore[arg-type]
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(
        tx_hash, timeout=timeout, poll_latency=RECEIPT_POLL_SECONDS
    )


def transfer(
    w3: Web3, account: LocalAccount, to: ChecksumAddress, value: Wei, *, timeout: float
) -> TxReceipt:
    """Send `value` wei from `account` to `to`."""
    return send(w3, account, {"to": to, "value": value}, gas=TRANSFER_GAS, timeout=timeout)


def hex_quantity(value: int) -> HexStr:
    """A JSON-RPC quantity ("0x1f")."""
    return HexStr(hex(value))
