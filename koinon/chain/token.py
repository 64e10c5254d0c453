"""`TokenClient`: KOIN (KoinToken.vy), the ERC-20 that rewards are paid in.

Amounts are integers in the token's smallest unit (1 KOIN = 10**18). Refusals raise
`RewardsRejected` with the contract's reason ("insufficient balance", "insufficient allowance",
"transfer to zero address", …) before anything is sent.
"""

from __future__ import annotations

from eth_typing import ChecksumAddress

from koinon.chain.calls import CallReceipt, ContractCaller, check_uint, to_address

TOKEN = "KoinToken"
DECIMALS = 18
# Fixed gas limits, measured on py-evm and anvil (docs/chain.md, "Rewards contracts"):
TRANSFER_GAS = 80_000  # measured: 33,985 – 34,045 to a holder, 51,085 – 51,145 to a new one
APPROVE_GAS = 70_000  # measured: 45,799 – 45,847 new allowance, 28,687 – 28,747 changed
TRANSFER_FROM_GAS = 90_000  # measured: 34,917 (allowance used up) – 56,817 (new holder)
BURN_GAS = 60_000  # measured: 28,497 (whole balance) – 33,357


class TokenClient:
    """KOIN at `address`, as `caller`'s account uses it."""

    def __init__(self, caller: ContractCaller, address: ChecksumAddress) -> None:
        self._caller = caller
        self._token = caller.contract(TOKEN, address)
        self.address = address

    def balance_of(self, holder: str | bytes | None = None) -> int:
        """KOIN held by `holder` (default: this account)."""
        owner = self._caller.address if holder is None else to_address(holder)
        with self._caller.lock:
            return int(self._caller.view(self._token, "balanceOf", owner))

    def total_supply(self) -> int:
        """All KOIN in existence: minted by claims, less what was burned."""
        with self._caller.lock:
            return int(self._caller.view(self._token, "totalSupply"))

    def allowance(self, owner: str | bytes, spender: str | bytes) -> int:
        """How much `spender` may still move of `owner`'s KOIN."""
        with self._caller.lock:
            return int(
                self._caller.view(self._token, "allowance", to_address(owner), to_address(spender))
            )

    def minter(self) -> ChecksumAddress:
        """The only address allowed to mint (the RewardDistributor)."""
        with self._caller.lock:
            return to_address(self._caller.view(self._token, "minter"))

    def transfer(self, receiver: str | bytes, amount: int) -> CallReceipt:
        """Send `amount` of this account's KOIN to `receiver`."""
        check_uint("amount", amount)
        args = [to_address(receiver), amount]
        with self._caller.lock:
            return self._caller.transact(
                self._token, "transfer", args, gas=TRANSFER_GAS, action="transfer"
            )

    def approve(self, spender: str | bytes, amount: int) -> CallReceipt:
        """Let `spender` move up to `amount` of this account's KOIN (replaces the allowance)."""
        check_uint("amount", amount)
        with self._caller.lock:
            return self.approve_locked(to_address(spender), amount)

    def approve_locked(self, spender: ChecksumAddress, amount: int) -> CallReceipt:
        """`approve` for a caller that already holds the lock (the bonds client)."""
        return self._caller.transact(
            self._token, "approve", [spender, amount], gas=APPROVE_GAS, action="approve"
        )

    def allowance_locked(self, spender: ChecksumAddress) -> int:
        """This account's allowance to `spender`, for a caller that already holds the lock."""
        return int(self._caller.view(self._token, "allowance", self._caller.address, spender))

    def transfer_from(self, owner: str | bytes, receiver: str | bytes, amount: int) -> CallReceipt:
        """Move `amount` of `owner`'s KOIN to `receiver`, spending this account's allowance."""
        check_uint("amount", amount)
        args = [to_address(owner), to_address(receiver), amount]
        with self._caller.lock:
            return self._caller.transact(
                self._token, "transferFrom", args, gas=TRANSFER_FROM_GAS, action="transfer"
            )

    def burn(self, amount: int) -> CallReceipt:
        """Destroy `amount` of this account's KOIN."""
        check_uint("amount", amount)
        with self._caller.lock:
            return self._caller.transact(self._token, "burn", [amount], gas=BURN_GAS, action="burn")
