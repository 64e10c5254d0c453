#pragma version ==0.4.3
#pragma optimize gas
"""
@title KoinToken
@notice KOIN, Koinon's reward token: an ERC-20 with 18 decimals. New tokens come only from the
        minter, which the deployer names once right after deployment (the RewardDistributor).
        Any holder may burn its own tokens; StakeBonds burns slashed bonds that way.
@dev An allowance of max_value(uint256) is never spent down (an "infinite" approval).
     Transfers, approvals and mints to the zero address revert; burning is explicit.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed

implements: IERC20
implements: IERC20Detailed

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event MinterSet:
    minter: indexed(address)


NAME: constant(String[6]) = "Koinon"
SYMBOL: constant(String[4]) = "KOIN"
DECIMALS: constant(uint8) = 18

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)
minter: public(address)

# Only the deployer may name the minter, and only once.
DEPLOYER: immutable(address)


@deploy
def __init__():
    DEPLOYER = msg.sender


@view
@external
def name() -> String[6]:
    return NAME


@view
@external
def symbol() -> String[4]:
    return SYMBOL


@view
@external
def decimals() -> uint8:
    return DECIMALS


@external
def set_minter(minter: address):
    """@notice Name the only address that may mint; callable once, by the deployer."""
    assert msg.sender == DEPLOYER, "not the deployer"
    assert self.minter == empty(address), "minter already set"
    assert minter != empty(address), "zero minter"
    self.minter = minter
    log MinterSet(minter=minter)


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    assert receiver != empty(address), "transfer to zero address"
    balance: uint256 = self.balanceOf[sender]
    assert balance >= amount, "insufficient balance"
    self.balanceOf[sender] = unsafe_sub(balance, amount)
    # Cannot overflow: every balance is part of totalSupply.
    self.balanceOf[receiver] = unsafe_add(self.balanceOf[receiver], amount)
    log Transfer(sender=sender, receiver=receiver, value=amount)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """@notice Move `amount` of the caller's tokens to `receiver`."""
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """@notice Move `amount` of `sender`'s tokens to `receiver`, spending the caller's allowance."""
    allowed: uint256 = self.allowance[sender][msg.sender]
    if allowed != max_value(uint256):
        assert allowed >= amount, "insufficient allowance"
        self.allowance[sender][msg.sender] = unsafe_sub(allowed, amount)
    self._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """@notice Let `spender` move up to `amount` of the caller's tokens (replaces any allowance)."""
    assert spender != empty(address), "approve to zero address"
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def mint(receiver: address, amount: uint256):
    """@notice Create `amount` new tokens for `receiver`; only the minter may."""
    assert msg.sender == self.minter, "not the minter"
    assert receiver != empty(address), "mint to zero address"
    self.totalSupply += amount
    self.balanceOf[receiver] = unsafe_add(self.balanceOf[receiver], amount)
    log Transfer(sender=empty(address), receiver=receiver, value=amount)


@external
def burn(amount: uint256):
    """@notice Destroy `amount` of the caller's tokens."""
    balance: uint256 = self.balanceOf[msg.sender]
    assert balance >= amount, "insufficient balance"
    self.balanceOf[msg.sender] = unsafe_sub(balance, amount)
    self.totalSupply = unsafe_sub(self.totalSupply, amount)
    log Transfer(sender=msg.sender, receiver=empty(address), value=amount)
