"""An epoch's input as columns: the same posts, votes and follows as `EpochInput`, one tuple per
field instead of one record per row, so that a million votes need no million objects and are
checked and indexed a column at a time."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from koinon.errors import invalid
from koinon.rewards.keys import Keys, hex_keys, hex_of, keys_of, rank_keys
from koinon.rewards.model import Bond, EpochInput, Follow, NoteOutcome, Post, Upvote, Vote

_INT64_MAX = 2**63 - 1


def _types(values: tuple[object, ...], allowed: type | tuple[type, ...]) -> bool:
    """Whether every value is an instance of `allowed` (and none a bool), as the records check."""
    return all(issubclass(t, allowed) and not issubclass(t, bool) for t in set(map(type, values)))


def _check_hex(name: str, values: tuple[str, ...]) -> Keys:
    """The keys of a column of 64-char lowercase hex strings; raises `Rejected` for any other."""
    keys = hex_keys(values)
    if keys is None:
        raise invalid(f"{name} must be 64 lowercase hex characters")
    return keys


def _seed(memo: dict[str, Keys], rows: int, known: Mapping[str, Keys] | None) -> None:
    """Remember keys the caller already made (it vouches that they are those of the column)."""
    for name, keys in (known or {}).items():
        if keys.shape != (rows, 4):
            raise invalid(f"the keys given for {name} do not fit the column")
        keys.flags.writeable = False
        memo[name] = keys


def _check_times(name: str, values: tuple[int, ...]) -> None:
    if values and not (_types(values, int) and min(values) >= 0):
        raise invalid(f"{name} must be a non-negative integer unix time")
    if values and max(values) > _INT64_MAX:
        raise invalid(f"{name} is too far in the future")


def _check_lengths(name: str, *columns: tuple[object, ...]) -> None:
    if len({len(column) for column in columns}) > 1:
        raise invalid(f"the {name} columns must have the same length")


def _memo(memo: dict[str, Keys], name: str, column: tuple[str, ...]) -> Keys:
    """The keys of a column, made once: the column is an immutable tuple, so they stay its own."""
    keys = memo.get(name)
    if keys is None:
        keys = memo[name] = keys_of(column)
        keys.flags.writeable = False
    return keys


@dataclass(frozen=True, slots=True)
class PostColumns:
    """Posts as columns: row i is `Post(id[i], author[i], created_at[i])`."""

    id: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    created_at: tuple[int, ...] = ()
    check: InitVar[bool] = True  # False: the caller made every row from parsed events
    known: InitVar[Mapping[str, Keys] | None] = None  # keys of hex columns the caller has made
    _keys: dict[str, Keys] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self, check: bool, known: Mapping[str, Keys] | None) -> None:
        _check_lengths("post", self.id, self.author, self.created_at)
        _seed(self._keys, len(self.id), known)
        if not check:
            return
        checked = {
            "id": _check_hex("post id", self.id),
            "author": _check_hex("post author", self.author),
        }
        _seed(self._keys, len(self.id), checked)
        _check_times("post created_at", self.created_at)

    def keys(self, name: Literal["id", "author"]) -> Keys:
        """The keys (`koinon.rewards.keys`) of hex column `name`, made on first use."""
        return _memo(self._keys, name, getattr(self, name))

    @classmethod
    def of(cls, posts: tuple[Post, ...]) -> PostColumns:
        """The columns of `posts`, in their order."""
        return cls(
            tuple(p.id for p in posts),
            tuple(p.author for p in posts),
            tuple(p.created_at for p in posts),
            check=False,  # records check themselves
        )

    def __len__(self) -> int:
        return len(self.id)

    def records(self) -> tuple[Post, ...]:
        """The rows as `Post` records."""
        return tuple(map(Post, self.id, self.author, self.created_at))


@dataclass(frozen=True, slots=True)
class VoteColumns:
    """Votes as columns: row i is `Vote(id[i], voter[i], post_id[i], direction[i], ...)`."""

    id: tuple[str, ...] = ()
    voter: tuple[str, ...] = ()
    post_id: tuple[str, ...] = ()
    direction: tuple[int, ...] = ()
    weight: tuple[float, ...] = ()
    created_at: tuple[int, ...] = ()
    check: InitVar[bool] = True  # False: the caller made every row from parsed events
    known: InitVar[Mapping[str, Keys] | None] = None  # keys of hex columns the caller has made
    _keys: dict[str, Keys] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self, check: bool, known: Mapping[str, Keys] | None) -> None:
        _check_lengths(
            "vote", self.id, self.voter, self.post_id, self.direction, self.weight, self.created_at
        )
        _seed(self._keys, len(self.id), known)
        if not check:
            return
        checked = {
            "id": _check_hex("vote id", self.id),
            "voter": _check_hex("voter", self.voter),
            "post_id": _check_hex("voted post id", self.post_id),
        }
        _seed(self._keys, len(self.id), checked)
        # set membership compares by value: True equals 1 but is no direction, so bools are out
        if self.direction and not (
            set(self.direction) <= {1, -1} and bool not in set(map(type, self.direction))
        ):
            raise invalid("vote direction must be 1 or -1")
        if self.weight and not (
            all(issubclass(t, float | int) for t in set(map(type, self.weight)))
            and all(map(math.isfinite, self.weight))
        ):
            raise invalid("vote weight must be a number")
        if self.weight and not (min(self.weight) > 0.0 and max(self.weight) <= 1.0):
            raise invalid("vote weight must be in (0, 1]")
        _check_times("vote created_at", self.created_at)

    def keys(self, name: Literal["id", "voter", "post_id"]) -> Keys:
        """The keys (`koinon.rewards.keys`) of hex column `name`, made on first use."""
        return _memo(self._keys, name, getattr(self, name))

    @classmethod
    def of(cls, votes: tuple[Vote, ...]) -> VoteColumns:
        """The columns of `votes`, in their order."""
        return cls(
            tuple(v.id for v in votes),
            tuple(v.voter for v in votes),
            tuple(v.post_id for v in votes),
            tuple(v.direction for v in votes),
            tuple(v.weight for v in votes),
            tuple(v.created_at for v in votes),
            check=False,  # records check themselves
        )

    def __len__(self) -> int:
        return len(self.id)

    def records(self) -> tuple[Vote, ...]:
        """The rows as `Vote` records."""
        return tuple(
            map(
                Vote,
                self.id,
                self.voter,
                self.post_id,
                self.direction,
                self.weight,
                self.created_at,
            )
        )


@dataclass(frozen=True, slots=True)
class FollowColumns:
    """Follow edges as columns: row i is `Follow(follower[i], followee[i])`."""

    follower: tuple[str, ...] = ()
    followee: tuple[str, ...] = ()
    check: InitVar[bool] = True  # False: the caller made every row from parsed events
    known: InitVar[Mapping[str, Keys] | None] = None  # keys of hex columns the caller has made
    _keys: dict[str, Keys] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self, check: bool, known: Mapping[str, Keys] | None) -> None:
        _check_lengths("follow", self.follower, self.followee)
        _seed(self._keys, len(self.follower), known)
        if not check:
            return
        # followers repeat once per edge: checking each account once is enough
        _check_hex("follower", tuple(set(self.follower)))
        _check_hex("followee", tuple(set(self.followee)))

    def keys(self, name: Literal["follower", "followee"]) -> Keys:
        """The keys (`koinon.rewards.keys`) of hex column `name`, made on first use."""
        return _memo(self._keys, name, getattr(self, name))

    @classmethod
    def of(cls, follows: tuple[Follow, ...]) -> FollowColumns:
        """The columns of `follows`, in their order."""
        return cls(
            tuple(f.follower for f in follows),
            tuple(f.followee for f in follows),
            check=False,  # records check themselves
        )

    def __len__(self) -> int:
        return len(self.follower)

    def records(self) -> tuple[Follow, ...]:
        """The rows as `Follow` records."""
        return tuple(map(Follow, self.follower, self.followee))


def _no_keys() -> Keys:
    return np.zeros((0, 4), dtype=np.uint64)


@dataclass(frozen=True, slots=True, eq=False)
class UpvoteColumns:
    """Upvotes an epoch counted, as key columns (`koinon.rewards.keys`): row i is an upvote by
    the account with key `voters[i]` for a post by `authors[i]`. Kept as keys, not hex strings:
    a settlement reads millions of them and only ever matches them to accounts."""

    voters: Keys = field(default_factory=_no_keys)
    authors: Keys = field(default_factory=_no_keys)
    _digest: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.voters.shape != self.authors.shape or self.voters.shape[1:] != (4,):
            raise invalid("upvote columns must be two key columns of the same length")

    @classmethod
    def of(cls, upvotes: tuple[Upvote, ...]) -> UpvoteColumns:
        """The columns of `upvotes`, in their order (records check themselves)."""
        if not upvotes:
            return cls()
        voters = keys_of([u.voter for u in upvotes])
        return cls(voters, keys_of([u.author for u in upvotes]))

    @classmethod
    def of_hex(cls, voters: Sequence[str], authors: Sequence[str]) -> UpvoteColumns:
        """Columns from hex public keys, checked."""
        if len(voters) != len(authors):
            raise invalid("upvote columns must have the same length")
        return cls(
            _check_hex("upvoter", tuple(voters)), _check_hex("upvoted author", tuple(authors))
        )

    @classmethod
    def joined(cls, parts: Sequence[UpvoteColumns]) -> UpvoteColumns:
        """The rows of all `parts`, one after the other."""
        if not parts:
            return cls()
        voters = np.concatenate([part.voters for part in parts])
        return cls(voters, np.concatenate([part.authors for part in parts]))

    def keys(self, name: Literal["voter", "author"]) -> Keys:
        """The key column `name`."""
        return self.voters if name == "voter" else self.authors

    def _pairs(self) -> npt.NDArray[np.uint64]:
        """Rows of eight words, a voter's key then the author's, in canonical order: by voter,
        then author (the order of the bytes), repeats kept."""
        if not len(self):
            return np.zeros((0, 8), dtype=np.uint64)
        voter, _ = rank_keys(self.voters)
        author, _ = rank_keys(self.authors)
        order = np.lexsort((author, voter))
        return np.concatenate(
            [np.take(self.voters, order, axis=0), np.take(self.authors, order, axis=0)], axis=1
        )

    def digest(self) -> str:
        """SHA-256 over the upvotes: each a voter's 32-byte key followed by the author's, the
        pairs sorted, repeats kept, concatenated (what a settlement record names)."""
        if not self._digest:
            self._digest.append(hashlib.sha256(self._pairs().astype(">u8").tobytes()).hexdigest())
        return self._digest[0]

    def to_bytes(self) -> bytes:
        """How a node keeps an epoch's upvotes: their digest (32 bytes), then the voters' keys and
        the authors' as little-endian 64-bit words, read back without a copy."""
        words = np.concatenate([self.voters, self.authors]).astype("<u8")
        return bytes.fromhex(self.digest()) + words.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> UpvoteColumns:
        """The upvotes `to_bytes` wrote. The digest is taken as written: the file is the node's
        own, and an auditor recounts the upvotes from events (`koinon.rewards.audit`)."""
        if len(data) < 32 or (len(data) - 32) % 64:
            raise invalid("kept upvotes must be a digest and pairs of 32-byte keys")
        words = np.frombuffer(data, dtype="<u8", offset=32).reshape(-1, 4)
        voters, authors = np.split(words, 2)
        upvotes = cls(voters.astype(np.uint64, copy=False), authors.astype(np.uint64, copy=False))
        upvotes._digest.append(data[:32].hex())
        return upvotes

    def __len__(self) -> int:
        return int(self.voters.shape[0])

    def __eq__(self, other: object) -> bool:
        """The same upvotes in the same order."""
        if not isinstance(other, UpvoteColumns):
            return NotImplemented
        return bool(
            np.array_equal(self.voters, other.voters)
            and np.array_equal(self.authors, other.authors)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable arrays inside

    def records(self) -> tuple[Upvote, ...]:
        """The rows as `Upvote` records."""
        return tuple(map(Upvote, hex_of(self.voters), hex_of(self.authors)))


@dataclass(frozen=True, slots=True)
class EpochColumns:
    """`EpochInput` with its posts, votes and follows as columns; it settles to the same result.

    The node reads an epoch's events into this form (`koinon.rewards.events.epoch_columns`);
    `EpochColumns.of` turns records into it. Row order is irrelevant, as in `EpochInput`.
    """

    epoch: int
    start: int
    end: int
    pool: int
    trust_seeds: tuple[str, ...]
    posts: PostColumns
    votes: VoteColumns
    follows: FollowColumns
    bonds: tuple[Bond, ...] = ()
    outcomes: tuple[NoteOutcome, ...] = ()
    earlier: UpvoteColumns = field(default_factory=UpvoteColumns)

    def __post_init__(self) -> None:
        # the scalar checks are EpochInput's own; building one without its big tuples runs them
        EpochInput(self.epoch, self.start, self.end, self.pool, self.trust_seeds, (), (), ())

    @classmethod
    def of(cls, epoch: EpochInput) -> EpochColumns:
        """The columnar form of a record-based epoch input."""
        return cls(
            epoch=epoch.epoch,
            start=epoch.start,
            end=epoch.end,
            pool=epoch.pool,
            trust_seeds=epoch.trust_seeds,
            posts=PostColumns.of(epoch.posts),
            votes=VoteColumns.of(epoch.votes),
            follows=FollowColumns.of(epoch.follows),
            bonds=epoch.bonds,
            outcomes=epoch.outcomes,
            earlier=UpvoteColumns.of(epoch.earlier),
        )

    def records(self) -> EpochInput:
        """The same epoch as records."""
        return EpochInput(
            epoch=self.epoch,
            start=self.start,
            end=self.end,
            pool=self.pool,
            trust_seeds=self.trust_seeds,
            posts=self.posts.records(),
            votes=self.votes.records(),
            follows=self.follows.records(),
            bonds=self.bonds,
            outcomes=self.outcomes,
            earlier=self.earlier.records(),
        )
