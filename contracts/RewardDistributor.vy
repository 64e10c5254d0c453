#pragma version ==0.4.3
#pragma optimize gas
"""
@title RewardDistributor
@notice Pays an epoch's rewards: the OperatorQuorum finalizes one settlement root per epoch, and
        anyone may claim a payout leaf of that root with its Merkle proof; the distributor then
        mints the amount in KOIN to the account the leaf names. Each (epoch, account) is paid
        once, and an epoch never pays out more than the total finalized with its root.
@dev The tree and the leaf encoding are in lib/settlement_tree.vy; this contract is KOIN's minter.
"""

from lib import settlement_tree

interface Quorum:
    def finalized(epoch: uint256) -> (bytes32, uint256): view

interface Koin:
    def mint(receiver: address, amount: uint256): nonpayable

event Claimed:
    epoch: indexed(uint256)
    account: indexed(address)
    amount: uint256


quorum: public(immutable(address))
token: public(immutable(address))

# epoch => account => paid
_claimed: HashMap[uint256, HashMap[address, bool]]
# epoch => sum paid so far, never above the finalized total
claimed_total: public(HashMap[uint256, uint256])


@deploy
def __init__(operator_quorum: address, koin: address):
    quorum = operator_quorum
    token = koin


@external
def claim(
    epoch: uint256,
    account: address,
    amount: uint256,
    proof: DynArray[bytes32, settlement_tree.MAX_DEPTH],
):
    """
    @notice Mint `amount` KOIN to `account`, as the payout leaf (epoch, account, amount) of the
            epoch's finalized root says; anyone may send the claim.
    """
    root: bytes32 = empty(bytes32)
    total: uint256 = 0
    root, total = staticcall Quorum(quorum).finalized(epoch)
    assert root != empty(bytes32), "epoch not finalized"
    assert not self._claimed[epoch][account], "already claimed"
    leaf: bytes32 = settlement_tree.payout_leaf(epoch, account, amount)
    assert settlement_tree.verify(leaf, proof, root), "bad proof"
    paid: uint256 = self.claimed_total[epoch] + amount
    assert paid <= total, "over total"
    self._claimed[epoch][account] = True
    self.claimed_total[epoch] = paid
    extcall Koin(token).mint(account, amount)
    log Claimed(epoch=epoch, account=account, amount=amount)


@view
@external
def claimed(epoch: uint256, account: address) -> bool:
    """@notice Whether `account` has been paid for `epoch`."""
    return self._claimed[epoch][account]


@pure
@external
def payout_leaf(epoch: uint256, account: address, amount: uint256) -> bytes32:
    """@notice The payout leaf hash, for clients to check their own encoding against."""
    return settlement_tree.payout_leaf(epoch, account, amount)


@pure
@external
def verify(
    leaf: bytes32, proof: DynArray[bytes32, settlement_tree.MAX_DEPTH], root: bytes32
) -> bool:
    """@notice Whether `proof` links `leaf` to `root` in the settlement tree."""
    return settlement_tree.verify(leaf, proof, root)
