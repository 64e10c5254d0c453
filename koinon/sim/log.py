"""The simulated event log: accounts with hidden roles, posts with hidden quality, votes, follows.

Every scheme settles an `EventLog`; only the metrics look at the hidden columns (role, camp,
quality, which votes were bought).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

HONEST, ATTACKER, SYBIL = 0, 1, 2
MAJORITY, MINORITY = 0, 1
DAY = 86_400
PAYOUT_WINDOW = 7 * DAY  # Hive and Steem pay a post seven days after it was created


@dataclass(frozen=True, eq=False)
class EventLog:
    """One epoch of a simulated network. Times are seconds from the epoch's start."""

    role: IntArray  # per account: HONEST, ATTACKER or SYBIL
    camp: IntArray  # per account: MAJORITY or MINORITY
    stake: FloatArray  # per account, in stake units (Hive Power / Steem Power)
    post_author: IntArray
    post_time: IntArray
    post_quality: FloatArray  # hidden, in [0, 1]
    vote_voter: IntArray
    vote_post: IntArray
    vote_direction: IntArray
    vote_weight: FloatArray
    vote_time: IntArray
    vote_bought: BoolArray  # hidden: cast by an honest seller for an attacker's payment
    follow_src: IntArray
    follow_dst: IntArray
    seeds: IntArray  # trust seeds (honest accounts the operators vouch for)
    end: int  # every vote is cast before this time
    # upvotes of the earlier epochs, as (voter, author) accounts: what Koinon's ring detector
    # reads besides this epoch's votes (the other schemes have no use for them)
    history_voter: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    history_author: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_accounts(self) -> int:
        """Number of accounts, sybils included."""
        return int(self.role.shape[0])

    @property
    def n_posts(self) -> int:
        """Number of posts."""
        return int(self.post_author.shape[0])

    def without_bought_votes(self) -> EventLog:
        """The same log minus the bought votes (the counterfactual that prices them)."""
        keep = ~self.vote_bought
        return replace(
            self,
            vote_voter=self.vote_voter[keep],
            vote_post=self.vote_post[keep],
            vote_direction=self.vote_direction[keep],
            vote_weight=self.vote_weight[keep],
            vote_time=self.vote_time[keep],
            vote_bought=self.vote_bought[keep],
        )


@dataclass(frozen=True, eq=False)
class Votes:
    """A batch of votes, to be concatenated into a log."""

    voter: IntArray
    post: IntArray
    direction: IntArray
    weight: FloatArray
    time: IntArray
    bought: BoolArray

    @staticmethod
    def empty() -> Votes:
        """No votes."""
        return Votes.of(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))

    @staticmethod
    def of(
        voter: IntArray,
        post: IntArray,
        time: IntArray,
        direction: int = 1,
        bought: bool = False,
    ) -> Votes:
        """Full-weight votes in one direction."""
        count = voter.shape[0]
        return Votes(
            voter=voter.astype(np.int64),
            post=post.astype(np.int64),
            direction=np.full(count, direction, dtype=np.int64),
            weight=np.ones(count, dtype=np.float64),
            time=time.astype(np.int64),
            bought=np.full(count, bought, dtype=bool),
        )


def join_votes(batches: list[Votes]) -> Votes:
    """Concatenate vote batches."""
    if not batches:
        return Votes.empty()
    return Votes(
        voter=np.concatenate([b.voter for b in batches]),
        post=np.concatenate([b.post for b in batches]),
        direction=np.concatenate([b.direction for b in batches]),
        weight=np.concatenate([b.weight for b in batches]),
        time=np.concatenate([b.time for b in batches]),
        bought=np.concatenate([b.bought for b in batches]),
    )
