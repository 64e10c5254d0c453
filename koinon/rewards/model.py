"""The values an epoch settlement works on: posts, votes, follows, bonds and note outcomes in,
payouts and slashes out. Ids and public keys are 64-char lowercase hex, times are unix seconds, and
token amounts are integers in base units (18 decimals)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from koinon.errors import invalid

TOKEN = 10**18  # base units in one token
_HEX = frozenset("0123456789abcdef")


def _check_hex(name: str, value: object) -> None:
    if not (isinstance(value, str) and len(value) == 64 and _HEX.issuperset(value)):
        raise invalid(f"{name} must be 64 lowercase hex characters")


def _check_amount(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise invalid(f"{name} must be a non-negative integer amount")


def _check_time(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise invalid(f"{name} must be a non-negative integer unix time")


@dataclass(frozen=True, slots=True)
class Post:
    """A post that can earn rewards: a kind-1 note (or any rewardable kind) by `author`."""

    id: str
    author: str
    created_at: int

    def __post_init__(self) -> None:
        _check_hex("post id", self.id)
        _check_hex("post author", self.author)
        _check_time("post created_at", self.created_at)


@dataclass(frozen=True, slots=True)
class Vote:
    """A NIP-25 reaction read as a vote: `+` is direction 1, `-` is -1, weight in (0, 1]."""

    id: str
    voter: str
    post_id: str
    direction: int
    weight: float
    created_at: int

    def __post_init__(self) -> None:
        _check_hex("vote id", self.id)
        _check_hex("voter", self.voter)
        _check_hex("voted post id", self.post_id)
        if self.direction not in (1, -1) or isinstance(self.direction, bool):
            raise invalid("vote direction must be 1 or -1")
        weight = self.weight
        if not isinstance(weight, float | int) or not math.isfinite(weight):
            raise invalid("vote weight must be a number")
        if not 0.0 < weight <= 1.0:
            raise invalid("vote weight must be in (0, 1]")
        _check_time("vote created_at", self.created_at)


@dataclass(frozen=True, slots=True)
class Follow:
    """One edge of a NIP-02 contact list (the follower's latest kind-3 event)."""

    follower: str
    followee: str

    def __post_init__(self) -> None:
        _check_hex("follower", self.follower)
        _check_hex("followee", self.followee)


@dataclass(frozen=True, slots=True)
class Upvote:
    """An upvote counted in an earlier epoch: `voter` upvoted a post by `author`. The ring
    detector reads these besides the epoch's own votes (`koinon/rewards/rings.py`)."""

    voter: str
    author: str

    def __post_init__(self) -> None:
        _check_hex("upvoter", self.voter)
        _check_hex("upvoted author", self.author)


@dataclass(frozen=True, slots=True)
class Bond:
    """Tokens `owner` staked behind the factual claim of post `event_id`."""

    event_id: str
    owner: str
    amount: int

    def __post_init__(self) -> None:
        _check_hex("bonded event id", self.event_id)
        _check_hex("bond owner", self.owner)
        _check_amount("bond amount", self.amount)


class NoteStatus(StrEnum):
    """What community notes settled about a post."""

    MISLEADING = "misleading"
    NOT_MISLEADING = "not_misleading"


@dataclass(frozen=True, slots=True)
class NoteOutcome:
    """The notes scorer's verdict on a post, with the authors of the notes that carried it.

    This is the interface between the community-notes scorer and the settlement: the scorer
    produces one outcome per post whose notes reached a status in the epoch.
    """

    post_id: str
    status: NoteStatus
    note_writers: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_hex("note outcome post id", self.post_id)
        if self.status not in (NoteStatus.MISLEADING, NoteStatus.NOT_MISLEADING):
            raise invalid("note status must be 'misleading' or 'not_misleading'")
        object.__setattr__(self, "status", NoteStatus(self.status))
        for writer in self.note_writers:
            _check_hex("note writer", writer)


@dataclass(frozen=True, slots=True)
class EpochInput:
    """Everything an epoch's settlement depends on; the order of every tuple is irrelevant.

    Posts created in [start, end) are settled, with the votes on them cast before `end`. Follows
    are the contact lists as of `end`. `pool` base units are shared between authors and curators.
    `trust_seeds` are the pubkeys trust propagates from (e.g. the operators' curated list).
    `earlier` holds the upvotes counted in the epochs before this one that the ring detector
    reads (`Params.ring_epochs` - 1 of them), one per vote.
    """

    epoch: int
    start: int
    end: int
    pool: int
    trust_seeds: tuple[str, ...]
    posts: tuple[Post, ...]
    votes: tuple[Vote, ...]
    follows: tuple[Follow, ...]
    bonds: tuple[Bond, ...] = ()
    outcomes: tuple[NoteOutcome, ...] = ()
    earlier: tuple[Upvote, ...] = ()

    def __post_init__(self) -> None:
        _check_amount("epoch number", self.epoch)
        _check_time("epoch start", self.start)
        _check_time("epoch end", self.end)
        if self.end <= self.start:
            raise invalid("epoch end must be after its start")
        _check_amount("reward pool", self.pool)
        for seed in self.trust_seeds:
            _check_hex("trust seed", seed)


@dataclass(frozen=True, slots=True)
class Payout:
    """What one pubkey receives for the epoch; `amount` = author + curation + notes."""

    pubkey: str
    amount: int
    author: int
    curation: int
    notes: int


@dataclass(frozen=True, slots=True)
class PostReward:
    """The author reward a post earned (only posts that earned one are listed), and its score."""

    post_id: str
    author: str
    amount: int
    score: float


@dataclass(frozen=True, slots=True)
class Slash:
    """A bond slashed because notes settled its post as misleading.

    `amount` = `to_writers` (paid to the note writers, included in their payouts) + `to_pool`
    (returned to the reward pool of a later epoch).
    """

    event_id: str
    owner: str
    amount: int
    to_writers: int
    to_pool: int


@dataclass(frozen=True, slots=True)
class EpochResult:
    """The settlement of one epoch: payouts sorted by pubkey, slashes sorted by event id.

    The author and curation parts of all payouts sum to `pool - undistributed` exactly;
    `undistributed` is non-zero only when nothing in the epoch earned anything.
    """

    epoch: int
    payouts: tuple[Payout, ...]
    slashes: tuple[Slash, ...]
    posts: tuple[PostReward, ...]
    undistributed: int

    @property
    def returned_to_pool(self) -> int:
        """Base units that go back to the pool: the undistributed part and slashes not paid out."""
        return self.undistributed + sum(s.to_pool for s in self.slashes)
