#pragma version ==0.4.3
#pragma optimize gas
"""
@title AnchorRegistry
@notice Each operator (msg.sender) records the tree heads of its own append-only
        RFC 9162 Merkle log. An anchor binds (root, size) to the block that carried it;
        sizes strictly grow, so an operator can never rewind or fork its anchored history.
@dev Gas: one anchor writes two fresh slots (root; size|timestamp|block packed as
     three uint64) and updates the operator's head slot (count|last size).
"""

event Anchored:
    operator: indexed(address)
    index: uint256
    root: bytes32
    size: uint256
    timestamp: uint256


struct Record:
    root: bytes32
    # size | timestamp << 64 | block_number << 128, each a uint64
    packed: uint256


# operator => index => record
_records: HashMap[address, HashMap[uint256, Record]]
# operator => count | last_size << 64 (one slot read and written per anchor)
_heads: HashMap[address, uint256]

_U64: constant(uint256) = 2**64 - 1


@external
def anchor(root: bytes32, size: uint256):
    """
    @notice Record tree head `root` of the caller's log at `size` leaves.
    @dev Reverts unless `size` is larger than the caller's previous anchored size.
    """
    assert root != empty(bytes32), "zero root"
    assert size <= _U64, "size too large"
    head: uint256 = self._heads[msg.sender]
    count: uint256 = head & _U64
    assert size > head >> 64, "size must grow"
    self._records[msg.sender][count] = Record(
        root=root,
        packed=size | (block.timestamp << 64) | (block.number << 128),
    )
    self._heads[msg.sender] = (count + 1) | (size << 64)
    log Anchored(operator=msg.sender, index=count, root=root, size=size, timestamp=block.timestamp)


@view
@external
def anchor_count(operator: address) -> uint256:
    """@notice Number of anchors `operator` has recorded."""
    return self._heads[operator] & _U64


@view
@internal
def _unpack(operator: address, index: uint256) -> (bytes32, uint256, uint256, uint256):
    assert index < self._heads[operator] & _U64, "no such anchor"
    record: Record = self._records[operator][index]
    return (
        record.root,
        record.packed & _U64,
        (record.packed >> 64) & _U64,
        (record.packed >> 128) & _U64,
    )


@view
@external
def get_anchor(operator: address, index: uint256) -> (bytes32, uint256, uint256, uint256):
    """@notice (root, size, timestamp, block_number) of anchor `index` of `operator`."""
    return self._unpack(operator, index)


@view
@external
def latest(operator: address) -> (bytes32, uint256, uint256, uint256):
    """@notice (root, size, timestamp, block_number) of the newest anchor of `operator`."""
    count: uint256 = self._heads[operator] & _U64
    assert count > 0, "no anchors"
    return self._unpack(operator, count - 1)
