"""Any EVM node by JSON-RPC URL (anvil in the tests, a real network in production)."""

from __future__ import annotations

import requests
from eth_typing import ChecksumAddress
from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint, Wei

from koinon.chain.errors import ChainError, translated
from koinon.chain.transactions import hex_quantity

ETHER = 10**18
FUNDING = Wei(10 * ETHER)


class RpcChain:
    """A remote node. Connection failures and timeouts surface as `ChainUnavailable`."""

    kind = "rpc"

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._session = requests.Session()
        # No retries inside web3: the caller (the node's anchoring service) owns the retry policy.
        provider = HTTPProvider(
            url,
            request_kwargs={"timeout": timeout},
            session=self._session,
            exception_retry_configuration=None,
            # web3 checks the chain id before every call; a node's chain id never changes.
            cache_allowed_requests=True,
            cacheable_requests={RPCEndpoint("eth_chainId")},
        )
        self.web3 = Web3(provider)

    def ensure_funds(self, address: ChecksumAddress) -> None:
        """Give an operator without balance some ether, from the node if it can spare any.

        Development nodes (anvil, hardhat, geth --dev) keep unlocked accounts; failing those,
        anvil and hardhat accept `*_setBalance`. A real network offers neither.
        """
        w3 = self.web3
        with translated("fund the operator"):
            if w3.eth.get_balance(address) > 0:
                return
            accounts = w3.eth.accounts
            if accounts:
                tx_hash = w3.eth.send_transaction(
                    {"from": accounts[0], "to": address, "value": FUNDING}
                )
                w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout)
            else:
                for method in ("anvil_setBalance", "hardhat_setBalance"):
                    response = w3.provider.make_request(
                        RPCEndpoint(method), [address, hex_quantity(FUNDING)]
                    )
                    if "error" not in response:
                        break
            if w3.eth.get_balance(address) == 0:
                raise ChainError(
                    f"operator {address} has no ether on chain {w3.eth.chain_id} "
                    "and the node has none to give: fund it"
                )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._session.close()
