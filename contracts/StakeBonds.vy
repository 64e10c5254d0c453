#pragma version ==0.4.3
#pragma optimize gas
"""
@title StakeBonds
@notice Authors bond KOIN on a claim (an event id). When community notes have judged it, an
        epoch's finalized settlement root carries a bond leaf (epoch, event_id, owner, slashed);
        anyone may then settle the bond with that leaf's proof: `slashed` (capped at the bond) is
        burned and the rest goes back to the owner. A bond is settled once; afterwards its owner
        cannot bond on that event again, so a settlement proof can never be replayed.
@dev The tree and the leaf encoding are in lib/settlement_tree.vy.
"""

from ethereum.ercs import IERC20
from lib import settlement_tree

interface Quorum:
    def finalized(epoch: uint256) -> (bytes32, uint256): view

interface Koin:
    def burn(amount: uint256): nonpayable

event Bonded:
    event_id: indexed(bytes32)
    owner: indexed(address)
    amount: uint256
    bond: uint256

event Settled:
    epoch: indexed(uint256)
    event_id: indexed(bytes32)
    owner: indexed(address)
    burned: uint256
    returned: uint256


quorum: public(immutable(address))
token: public(immutable(address))

# event id => owner => KOIN held in bond
_bonds: HashMap[bytes32, HashMap[address, uint256]]
# event id => owner => settled (bonding again is refused)
_settled: HashMap[bytes32, HashMap[address, bool]]


@deploy
def __init__(operator_quorum: address, koin: address):
    quorum = operator_quorum
    token = koin


@external
def bond(event_id: bytes32, amount: uint256):
    """@notice Add `amount` KOIN of the caller's (approved to this contract) to its bond on `event_id`."""
    assert amount > 0, "zero bond"
    assert not self._settled[event_id][msg.sender], "bond settled"
    self._bonds[event_id][msg.sender] += amount
    assert extcall IERC20(token).transferFrom(msg.sender, self, amount), "transfer failed"
    log Bonded(
        event_id=event_id, owner=msg.sender, amount=amount, bond=self._bonds[event_id][msg.sender]
    )


@external
def settle(
    epoch: uint256,
    event_id: bytes32,
    owner: address,
    slashed: uint256,
    proof: DynArray[bytes32, settlement_tree.MAX_DEPTH],
):
    """
    @notice Settle `owner`'s bond on `event_id` as the bond leaf (epoch, event_id, owner, slashed)
            of the epoch's finalized root says; anyone may send it.
    """
    root: bytes32 = empty(bytes32)
    total: uint256 = 0
    root, total = staticcall Quorum(quorum).finalized(epoch)
    assert root != empty(bytes32), "epoch not finalized"
    assert not self._settled[event_id][owner], "already settled"
    held: uint256 = self._bonds[event_id][owner]
    assert held > 0, "no bond"
    leaf: bytes32 = settlement_tree.bond_leaf(epoch, event_id, owner, slashed)
    assert settlement_tree.verify(leaf, proof, root), "bad proof"
    burned: uint256 = min(slashed, held)
    returned: uint256 = held - burned
    self._bonds[event_id][owner] = 0
    self._settled[event_id][owner] = True
    if burned > 0:
        extcall Koin(token).burn(burned)
    if returned > 0:
        assert extcall IERC20(token).transfer(owner, returned), "transfer failed"
    log Settled(epoch=epoch, event_id=event_id, owner=owner, burned=burned, returned=returned)


@view
@external
def bond_of(event_id: bytes32, owner: address) -> uint256:
    """@notice KOIN `owner` holds in bond on `event_id` (0 once settled)."""
    return self._bonds[event_id][owner]


@view
@external
def is_settled(event_id: bytes32, owner: address) -> bool:
    """@notice Whether `owner`'s bond on `event_id` has been settled."""
    return self._settled[event_id][owner]


@pure
@external
def bond_leaf(epoch: uint256, event_id: bytes32, owner: address, slashed: uint256) -> bytes32:
    """@notice The bond leaf hash, for clients to check their own encoding against."""
    return settlement_tree.bond_leaf(epoch, event_id, owner, slashed)
