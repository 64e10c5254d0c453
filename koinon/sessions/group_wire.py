"""The values of group messaging, each with one binary form: members, rosters, sender-key
distributions and group messages. Integers are big-endian; each form opens with a format byte.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from koinon.sessions.errors import DecryptError, SessionError

MAX_MEMBERS = 100
"""Most member devices in one group."""
MAX_COUNTER = 2**32 - 1
KEY_SIZE = 32
SIGNATURE_SIZE = 64
TAG_SIZE = 16
ROSTER_FORMAT = 0x31
DISTRIBUTION_FORMAT = 0x32
MESSAGE_FORMAT = 0x33
STATE_FORMAT = 0x34
_HEX = frozenset("0123456789abcdef")
_MEMBER = struct.Struct(">32sI")
_DISTRIBUTION = struct.Struct(">B32sI32sI32s")
HEADER = struct.Struct(">B32sI32sII")
"""format | group id | epoch | sender pubkey | sender device | iteration: the AEAD's AD."""


class GroupError(SessionError):
    """A roster or sender-key distribution is malformed, or a membership operation is misused."""


class MissingSenderKey(DecryptError):
    """A message needs a sender key not (yet) held: a later epoch or an undistributed sender.

    The caller may keep the message and retry once the matching distribution has arrived.
    """


class Reader:
    """Consumes a byte string front to back; running short raises `error`."""

    def __init__(self, data: bytes, error: type[SessionError]) -> None:
        if not isinstance(data, bytes):
            raise error("expected bytes")
        self.data, self.offset, self.error = data, 0, error

    def take(self, size: int) -> bytes:
        """The next `size` bytes."""
        end = self.offset + size
        if end > len(self.data):
            raise self.error("truncated")
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def integer(self, size: int) -> int:
        """The next `size`-byte unsigned integer."""
        return int.from_bytes(self.take(size), "big")

    def member(self) -> Member:
        """The next 36-byte member."""
        pubkey, device = _MEMBER.unpack(self.take(_MEMBER.size))
        return Member(pubkey.hex(), device)

    def finish(self) -> None:
        """Refuse trailing bytes."""
        if self.offset != len(self.data):
            raise self.error("trailing bytes")


@dataclass(frozen=True, slots=True, order=True)
class Member:
    """One member device: a Nostr public key (64 lowercase hex digits) and a device number."""

    pubkey: str
    device: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.pubkey, str) or len(self.pubkey) != 64 or set(self.pubkey) - _HEX:
            raise GroupError("member pubkey must be 64 lowercase hex digits")
        if not isinstance(self.device, int) or not 0 <= self.device <= MAX_COUNTER:
            raise GroupError("member device must be a u32")

    def to_bytes(self) -> bytes:
        """The 36-byte form: pubkey || device u32."""
        return _MEMBER.pack(bytes.fromhex(self.pubkey), self.device)


def check_members(members: tuple[Member, ...]) -> None:
    """Refuse an empty, oversized or repeating member list."""
    if not 0 < len(members) <= MAX_MEMBERS:
        raise GroupError(f"a group has 1 to {MAX_MEMBERS} member devices")
    if len(set(members)) != len(members):
        raise GroupError("a member device appears twice")


@dataclass(frozen=True, slots=True)
class Roster:
    """Who is in a group at which epoch: what a joiner needs besides the sender keys."""

    group_id: bytes
    epoch: int
    members: tuple[Member, ...]

    def __post_init__(self) -> None:
        if len(self.group_id) != KEY_SIZE or not 0 <= self.epoch <= MAX_COUNTER:
            raise GroupError("roster needs a 32-byte group id and a u32 epoch")
        check_members(self.members)

    def to_bytes(self) -> bytes:
        """format | group id | epoch u32 | count u16 | members."""
        head = struct.pack(">B32sIH", ROSTER_FORMAT, self.group_id, self.epoch, len(self.members))
        return head + b"".join(member.to_bytes() for member in self.members)

    @classmethod
    def from_bytes(cls, data: bytes) -> Roster:
        """Parse `to_bytes` output; anything malformed raises GroupError."""
        reader = Reader(data, GroupError)
        roster = cls.read(reader)
        reader.finish()
        return roster

    @classmethod
    def read(cls, reader: Reader) -> Roster:
        """Parse a roster from the front of `reader`; bad values raise GroupError."""
        if reader.integer(1) != ROSTER_FORMAT:
            raise reader.error("not a roster")
        group_id, epoch = reader.take(KEY_SIZE), reader.integer(4)
        count = reader.integer(2)
        if count > MAX_MEMBERS:
            raise reader.error("too many members")
        return cls(group_id, epoch, tuple(reader.member() for _ in range(count)))


@dataclass(frozen=True, slots=True)
class SenderKeyDistribution:
    """One member's sender key for one epoch, sent to each other member over pairwise sessions."""

    group_id: bytes
    epoch: int
    chain_key: bytes = field(repr=False)
    iteration: int
    signing_public: bytes

    def __post_init__(self) -> None:
        sizes = (len(self.group_id), len(self.chain_key), len(self.signing_public))
        if sizes != (KEY_SIZE,) * 3:
            raise GroupError("distribution keys and group id are 32 bytes")
        if not (0 <= self.epoch <= MAX_COUNTER and 0 <= self.iteration <= MAX_COUNTER):
            raise GroupError("distribution epoch and iteration are u32")

    def to_bytes(self) -> bytes:
        """format | group id | epoch u32 | chain key | iteration u32 | signing public key."""
        return _DISTRIBUTION.pack(
            DISTRIBUTION_FORMAT,
            self.group_id,
            self.epoch,
            self.chain_key,
            self.iteration,
            self.signing_public,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SenderKeyDistribution:
        """Parse `to_bytes` output; anything malformed raises GroupError."""
        if not isinstance(data, bytes) or len(data) != _DISTRIBUTION.size:
            raise GroupError(f"a sender-key distribution is {_DISTRIBUTION.size} bytes")
        kind, group_id, epoch, chain_key, iteration, signing_public = _DISTRIBUTION.unpack(data)
        if kind != DISTRIBUTION_FORMAT:
            raise GroupError("not a sender-key distribution")
        return cls(group_id, epoch, chain_key, iteration, signing_public)


def message_header(group_id: bytes, epoch: int, sender: Member, iteration: int) -> bytes:
    """The header of a group message (format in `HEADER`)."""
    pubkey = bytes.fromhex(sender.pubkey)
    return HEADER.pack(MESSAGE_FORMAT, group_id, epoch, pubkey, sender.device, iteration)


@dataclass(frozen=True, slots=True)
class GroupMessage:
    """One encrypted, signed group message: header || ciphertext || Ed25519 signature."""

    group_id: bytes
    epoch: int
    sender: Member
    iteration: int
    ciphertext: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if len(self.group_id) != KEY_SIZE or len(self.signature) != SIGNATURE_SIZE:
            raise DecryptError("group message needs a 32-byte group id and a 64-byte signature")
        if not (0 <= self.epoch <= MAX_COUNTER and 0 <= self.iteration <= MAX_COUNTER):
            raise DecryptError("group message epoch and iteration are u32")
        if len(self.ciphertext) < TAG_SIZE:
            raise DecryptError("group message ciphertext too short")

    @property
    def header(self) -> bytes:
        """The 77-byte header, the AEAD's associated data."""
        return message_header(self.group_id, self.epoch, self.sender, self.iteration)

    def to_bytes(self) -> bytes:
        """header || ciphertext || signature."""
        return self.header + self.ciphertext + self.signature

    @classmethod
    def from_bytes(cls, data: bytes) -> GroupMessage:
        """Parse `to_bytes` output; anything malformed raises DecryptError."""
        if not isinstance(data, bytes) or len(data) < HEADER.size + TAG_SIZE + SIGNATURE_SIZE:
            raise DecryptError("group message too short")
        kind, group_id, epoch, pubkey, device, iteration = HEADER.unpack(data[: HEADER.size])
        if kind != MESSAGE_FORMAT:
            raise DecryptError("not a group message")
        sender = Member(pubkey.hex(), device)
        body, signature = data[HEADER.size : -SIGNATURE_SIZE], data[-SIGNATURE_SIZE:]
        return cls(group_id, epoch, sender, iteration, body, signature)
