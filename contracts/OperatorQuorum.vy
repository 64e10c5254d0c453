#pragma version ==0.4.3
#pragma optimize gas
"""
@title OperatorQuorum
@notice Finalizes one settlement (root, total) per rewards epoch once `threshold` distinct
        current operators have submitted that same pair. The owner manages the operator set
        and the threshold M (1 <= M <= N). The deployer starts as owner and sole operator with
        M = 1: one node alone is a quorum of one.
@dev A finalized epoch never changes. A submission stays recorded when its operator is removed
     but stops counting; `finalize` lets anyone finalize a pair that reached the threshold
     through a change of the operator set rather than through a new submission.
"""

event OperatorAdded:
    operator: indexed(address)

event OperatorRemoved:
    operator: indexed(address)

event ThresholdSet:
    threshold: uint256

event OwnerSet:
    owner: indexed(address)

event Submitted:
    epoch: indexed(uint256)
    operator: indexed(address)
    root: bytes32
    total: uint256

event Finalized:
    epoch: indexed(uint256)
    root: bytes32
    total: uint256


struct Settlement:
    root: bytes32
    total: uint256


MAX_OPERATORS: constant(uint256) = 32

owner: public(address)
threshold: public(uint256)
is_operator: public(HashMap[address, bool])
_operators: DynArray[address, MAX_OPERATORS]

# epoch => the finalized pair; a zero root means not finalized (zero roots are refused).
_finalized: HashMap[uint256, Settlement]
# epoch => operator => the pair it submitted, as keccak256(abi.encode(root, total))
_submitted: HashMap[uint256, HashMap[address, bytes32]]
# epoch => pair => the operators that submitted it, in order
_backers: HashMap[uint256, HashMap[bytes32, DynArray[address, MAX_OPERATORS]]]


@deploy
def __init__():
    self.owner = msg.sender
    self.threshold = 1
    self.is_operator[msg.sender] = True
    self._operators.append(msg.sender)
    log OwnerSet(owner=msg.sender)
    log OperatorAdded(operator=msg.sender)
    log ThresholdSet(threshold=1)


@pure
@internal
def _pair(root: bytes32, total: uint256) -> bytes32:
    return keccak256(abi_encode(root, total))


@view
@internal
def _support(epoch: uint256, pair: bytes32) -> uint256:
    count: uint256 = 0
    for backer: address in self._backers[epoch][pair]:
        if self.is_operator[backer]:
            count += 1
    return count


@internal
def _finalize_if_backed(epoch: uint256, root: bytes32, total: uint256) -> bool:
    if self._support(epoch, self._pair(root, total)) < self.threshold:
        return False
    self._finalized[epoch] = Settlement(root=root, total=total)
    log Finalized(epoch=epoch, root=root, total=total)
    return True


@external
def submit(epoch: uint256, root: bytes32, total: uint256) -> bool:
    """
    @notice Back (root, total) as the settlement of `epoch`; returns whether it finalized.
    @dev Reverts for a non-operator, a second submission by the same operator for the epoch,
         an already finalized epoch, and the zero root (an empty epoch has nothing to settle).
    """
    assert self.is_operator[msg.sender], "not an operator"
    assert self._finalized[epoch].root == empty(bytes32), "epoch finalized"
    assert root != empty(bytes32), "zero root"
    assert self._submitted[epoch][msg.sender] == empty(bytes32), "already submitted"
    pair: bytes32 = self._pair(root, total)
    self._submitted[epoch][msg.sender] = pair
    if len(self._backers[epoch][pair]) == MAX_OPERATORS:
        # Full only when operators removed since backed it too: keep the current ones, which
        # leaves room, as the sender is a current operator that has not submitted yet.
        current: DynArray[address, MAX_OPERATORS] = []
        for backer: address in self._backers[epoch][pair]:
            if self.is_operator[backer]:
                current.append(backer)
        self._backers[epoch][pair] = current
    self._backers[epoch][pair].append(msg.sender)
    log Submitted(epoch=epoch, operator=msg.sender, root=root, total=total)
    return self._finalize_if_backed(epoch, root, total)


@external
def finalize(epoch: uint256, root: bytes32, total: uint256):
    """@notice Finalize a pair whose current support reached the threshold; anyone may call."""
    assert self._finalized[epoch].root == empty(bytes32), "epoch finalized"
    assert self._finalize_if_backed(epoch, root, total), "not enough support"


@external
def add_operator(operator: address):
    """@notice Register `operator`; owner only."""
    assert msg.sender == self.owner, "not the owner"
    assert operator != empty(address), "zero operator"
    assert not self.is_operator[operator], "already an operator"
    assert len(self._operators) < MAX_OPERATORS, "too many operators"
    self.is_operator[operator] = True
    self._operators.append(operator)
    log OperatorAdded(operator=operator)


@external
def remove_operator(operator: address):
    """@notice Unregister `operator`; owner only. Lower the threshold first if needed."""
    assert msg.sender == self.owner, "not the owner"
    assert self.is_operator[operator], "not an operator"
    count: uint256 = len(self._operators)
    assert count - 1 >= self.threshold, "threshold above operators"
    for index: uint256 in range(MAX_OPERATORS):
        if index == count:
            break
        if self._operators[index] == operator:
            self._operators[index] = self._operators[count - 1]
            self._operators.pop()
            break
    self.is_operator[operator] = False
    log OperatorRemoved(operator=operator)


@external
def set_threshold(threshold: uint256):
    """@notice Require `threshold` matching submissions (1 <= threshold <= operators); owner only."""
    assert msg.sender == self.owner, "not the owner"
    assert threshold >= 1, "threshold below one"
    assert threshold <= len(self._operators), "threshold above operators"
    self.threshold = threshold
    log ThresholdSet(threshold=threshold)


@external
def set_owner(owner: address):
    """@notice Hand the operator set over to `owner`; owner only."""
    assert msg.sender == self.owner, "not the owner"
    assert owner != empty(address), "zero owner"
    self.owner = owner
    log OwnerSet(owner=owner)


@view
@external
def finalized(epoch: uint256) -> (bytes32, uint256):
    """@notice (root, total) finalized for `epoch`, or (0x0, 0) while it is not."""
    settlement: Settlement = self._finalized[epoch]
    return settlement.root, settlement.total


@view
@external
def is_finalized(epoch: uint256) -> bool:
    """@notice Whether `epoch` has a finalized settlement."""
    return self._finalized[epoch].root != empty(bytes32)


@view
@external
def support(epoch: uint256, root: bytes32, total: uint256) -> uint256:
    """@notice How many current operators have submitted (root, total) for `epoch`."""
    return self._support(epoch, self._pair(root, total))


@view
@external
def has_submitted(epoch: uint256, operator: address) -> bool:
    """@notice Whether `operator` has submitted a settlement for `epoch`."""
    return self._submitted[epoch][operator] != empty(bytes32)


@view
@external
def submission_of(epoch: uint256, operator: address) -> bytes32:
    """@notice keccak256(abi.encode(root, total)) of what `operator` submitted for `epoch`, or 0x0."""
    return self._submitted[epoch][operator]


@view
@external
def operators() -> DynArray[address, MAX_OPERATORS]:
    """@notice The current operators (in no particular order)."""
    return self._operators


@view
@external
def operator_count() -> uint256:
    """@notice N, the number of current operators."""
    return len(self._operators)
