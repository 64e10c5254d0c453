"""Group messaging with sender keys, sans I/O: one member device's view of one group.

Each member device sends with its own chain per epoch and hands that chain's current key to every
other member in a `SenderKeyDistribution` over the pairwise Double Ratchet sessions (the caller's
transport). Membership changes must reach all members in one agreed order (e.g. from one admin);
each member applies them to its own `GroupState`:

- `add` keeps the epoch: the joiner gets each member's chain at its *current* iteration, and HMAC
  chains cannot be run backwards, so it cannot read anything sent before it joined.
- `remove` starts a new epoch: every remaining member draws a fresh chain and signing key and
  redistributes, and all old chains are dropped, so the removed member, who holds only old-epoch
  keys, cannot read anything sent after its removal.

`decrypt` commits nothing until the signature and the AEAD tag have both verified.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from koinon.sessions.errors import DecryptError, StateError
from koinon.sessions.group_wire import (
    KEY_SIZE,
    MAX_COUNTER,
    MAX_MEMBERS,
    STATE_FORMAT,
    GroupError,
    GroupMessage,
    Member,
    MissingSenderKey,
    Reader,
    Roster,
    SenderKeyDistribution,
    message_header,
)
from koinon.sessions.primitives import Random
from koinon.sessions.sender_keys import (
    MAX_STORED_SKIPPED,
    ReceiverChain,
    SenderKey,
    open_sealed,
    seal,
    verify_signature,
)

__all__ = [
    "GroupError",
    "GroupMessage",
    "GroupState",
    "Member",
    "MissingSenderKey",
    "Roster",
    "SenderKeyDistribution",
]

_SKIPPED = struct.Struct(">I32s")


class GroupState:
    """One member device's state of one group; keep it at rest as encrypted `to_bytes`."""

    __slots__ = ("_epoch", "_group_id", "_members", "_own", "_random", "_receivers", "_sender")

    def __init__(
        self,
        roster: Roster,
        own: Member,
        sender: SenderKey,
        receivers: dict[Member, ReceiverChain],
        random: Random,
    ) -> None:
        if own not in roster.members:
            raise GroupError("we are not a member of this roster")
        if own in receivers or not set(receivers) <= set(roster.members):
            raise GroupError("sender keys held for non-members")
        self._group_id, self._epoch, self._members = roster.group_id, roster.epoch, roster.members
        self._own, self._sender, self._receivers, self._random = own, sender, receivers, random

    @classmethod
    def create(cls, own: Member, members: Iterable[Member], random: Random) -> GroupState:
        """A new group (random 32-byte id, epoch 0) of `own` and `members`."""
        others = tuple(member for member in members if member != own)
        return cls.join(own, Roster(random(KEY_SIZE), 0, (own, *others)), random)

    @classmethod
    def join(cls, own: Member, roster: Roster, random: Random) -> GroupState:
        """Our state in a group we were told of, with a fresh sender key and nobody else's yet."""
        return cls(roster, own, SenderKey.generate(random), {}, random)

    @property
    def roster(self) -> Roster:
        """Group id, epoch and members: what a joiner needs, sent over pairwise sessions."""
        return Roster(self._group_id, self._epoch, self._members)

    @property
    def group_id(self) -> bytes:
        """The group's 32-byte id."""
        return self._group_id

    @property
    def epoch(self) -> int:
        """Which sender keys are current; it grows by one with every removal."""
        return self._epoch

    @property
    def own(self) -> Member:
        """The member device this state belongs to."""
        return self._own

    @property
    def members(self) -> tuple[Member, ...]:
        """Every member device, ourselves included."""
        return self._members

    @property
    def missing_senders(self) -> tuple[Member, ...]:
        """Other members whose sender key for this epoch has not arrived yet."""
        return tuple(m for m in self._members if m != self._own and m not in self._receivers)

    def distribution(self) -> SenderKeyDistribution:
        """Our chain at its current iteration, for every other member (and any joiner)."""
        sender = self._sender
        return SenderKeyDistribution(
            self._group_id, self._epoch, sender.chain_key, sender.iteration, sender.signing_public
        )

    def receive_distribution(self, sender: Member, distribution: SenderKeyDistribution) -> None:
        """Store `sender`'s chain; `sender` must be the pairwise session's authenticated peer."""
        if distribution.group_id != self._group_id:
            raise GroupError("distribution for another group")
        if distribution.epoch != self._epoch:
            raise GroupError(f"distribution for epoch {distribution.epoch}, not {self._epoch}")
        if sender == self._own or sender not in self._members:
            raise GroupError("distribution from a non-member")
        held = self._receivers.get(sender)
        if held is not None:
            if held.signing_public != distribution.signing_public:
                raise GroupError("a second, different sender key for this member and epoch")
            return  # a retransmission; rewinding the chain would reopen replays
        self._receivers[sender] = ReceiverChain(
            distribution.chain_key, distribution.iteration, distribution.signing_public
        )

    def add(self, member: Member) -> None:
        """Admit `member` in the current epoch (no rotation); then send it `roster` and keys."""
        if member in self._members:
            raise GroupError("already a member")
        if len(self._members) >= MAX_MEMBERS:
            raise GroupError(f"a group has at most {MAX_MEMBERS} member devices")
        self._members = (*self._members, member)

    def remove(self, member: Member) -> None:
        """Drop `member` and start a new epoch with a fresh sender key; then redistribute."""
        if member == self._own:
            raise GroupError("to leave a group, delete its state")
        if member not in self._members:
            raise GroupError("not a member")
        if self._epoch >= MAX_COUNTER:
            raise GroupError("epochs exhausted")
        self._members = tuple(m for m in self._members if m != member)
        self._epoch += 1
        self._sender = SenderKey.generate(self._random)
        self._receivers = {}

    def encrypt(self, plaintext: bytes) -> GroupMessage:
        """A signed message to every member, advancing our chain."""
        sender, message_key = self._sender.step()
        iteration = self._sender.iteration
        header = message_header(self._group_id, self._epoch, self._own, iteration)
        ciphertext = seal(message_key, header, plaintext)
        signature = self._sender.sign(header, ciphertext)
        self._sender = sender
        return GroupMessage(
            self._group_id, self._epoch, self._own, iteration, ciphertext, signature
        )

    def decrypt(self, message: GroupMessage) -> bytes:
        """The plaintext of `message`; on any failure raises DecryptError and changes nothing."""
        if not isinstance(message, GroupMessage):
            raise DecryptError("not a group message")
        if message.group_id != self._group_id:
            raise DecryptError("message for another group")
        if message.epoch > self._epoch:
            raise MissingSenderKey(f"message from epoch {message.epoch}; we are at {self._epoch}")
        if message.epoch < self._epoch:
            raise DecryptError(f"message from past epoch {message.epoch}")
        if message.sender == self._own:
            raise DecryptError("our own message")
        if message.sender not in self._members:
            raise DecryptError("message from a non-member")
        chain = self._receivers.get(message.sender)
        if chain is None:
            raise MissingSenderKey("no sender key from this member yet")
        header = message.header
        verify_signature(chain.signing_public, header, message.ciphertext, message.signature)
        step = chain.key_for(message.iteration)
        plaintext = open_sealed(step.message_key, header, message.ciphertext)
        chain.commit(step)
        return plaintext

    def to_bytes(self) -> bytes:
        """The versioned state; it holds secrets, so encrypt it at rest."""
        sender = self._sender
        parts = [
            bytes((STATE_FORMAT,)),
            self.roster.to_bytes(),
            self._own.to_bytes(),
            sender.chain_key + sender.iteration.to_bytes(4, "big") + sender.signing_secret,
            len(self._receivers).to_bytes(2, "big"),
        ]
        for member, chain in self._receivers.items():
            parts += [
                member.to_bytes(),
                chain.chain_key + chain.iteration.to_bytes(4, "big") + chain.signing_public,
                len(chain.skipped).to_bytes(2, "big"),
                *(_SKIPPED.pack(index, key) for index, key in chain.skipped.items()),
            ]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, random: Random) -> GroupState:
        """A state from `to_bytes` output; anything malformed raises StateError."""
        reader = Reader(data, StateError)
        if reader.integer(1) != STATE_FORMAT:
            raise StateError("not a group state")
        try:
            roster = Roster.read(reader)
            own = reader.member()
            sender = SenderKey(reader.take(KEY_SIZE), reader.integer(4), reader.take(KEY_SIZE))
            receivers: dict[Member, ReceiverChain] = {}
            for _ in range(reader.integer(2)):
                member = reader.member()
                chain = ReceiverChain(reader.take(KEY_SIZE), reader.integer(4), reader.take(32))
                count = reader.integer(2)
                if count > MAX_STORED_SKIPPED or member in receivers:
                    raise StateError("malformed receiving chains")
                for _ in range(count):
                    index, key = _SKIPPED.unpack(reader.take(_SKIPPED.size))
                    chain.skipped[index] = key
                receivers[member] = chain
            reader.finish()
            return cls(roster, own, sender, receivers, random)
        except GroupError as exc:
            raise StateError(f"malformed group state: {exc}") from exc
