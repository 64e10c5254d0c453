"""Every tunable number of Koinon's reward mechanism, in one table (reasons in docs/rewards.md)."""

from __future__ import annotations

from dataclasses import dataclass

from koinon.errors import invalid


@dataclass(frozen=True, slots=True)
class Params:
    """The reward mechanism's parameters; the defaults are the network's values."""

    # Trust: personalized PageRank over follows, restarting at the seeds.
    trust_damping: float = 0.35  # probability a trust walk follows an edge instead of restarting
    trust_iterations: int = 24  # fixed count (0.35^24 < 1e-10), the same arithmetic everywhere
    trust_cap: float = 1.5  # no voter weighs more than this many times the typical voter
    closure_tolerance: float = 0.2  # exclusivity a trust cluster may show (0: none, 1: closed)
    misleading_trust_factor: float = 0.5  # trust kept by an author of a post settled misleading

    # Votes: each voter's trust is a budget shared by all their votes in the epoch.
    downvote_budget: float = 0.25  # downvote budget, a separate fraction of the upvote budget
    downvote_knee: float = 1.0  # downvotes from one cluster on a post bend after this many votes

    # Clusters: modularity label propagation (clusters.py).
    cluster_rounds: int = 20  # label propagation rounds per level (half the nodes move per round)
    cluster_resolution: float = 1.0  # modularity resolution; higher splits into smaller clusters
    in_cluster_tolerance: float = 2.0  # most self-preference a cluster may show (x fair share)
    concave_knee: float = 16.0  # one cluster's support on a post is linear up to this many votes
    bridging_bonus: float = 0.25  # extra weight on support both from inside and outside a cluster

    # Rings: groups found in several epochs' upvotes, held to their fair share (rings.py).
    ring_epochs: int = 6  # epochs of upvotes the detector reads: this one and the ones before
    ring_vectors: int = 5  # leading non-trivial eigenvectors searched for a group
    ring_edge: float = 0.2  # eigenvalues below this are the honest bulk, damped by the filter
    ring_min_z: float = 25.0  # least excess of inner edges over chance, in standard deviations
    ring_largest: float = 0.3  # largest group, as a share of voting weight (more is a faction)
    ring_explained: float = 0.6  # groups mostly made of whole vote clusters are left to the cap
    ring_balance: float = 0.25  # least share of a group's inner votes its members give and receive
    ring_preference: float = 1.0  # a ring may support itself up to this times its fair share

    # Split of the pool, and curation.
    author_share: float = 0.5  # the rest pays curators, each for its own weight and judgement
    curation_floor: float = 0.7  # share of a curation weight that the latest voter still gets

    # Bonds.
    slash_fraction: float = 1.0  # part of a bond slashed when its post is settled misleading
    note_writer_share: float = 0.5  # part of a slash paid to the note writers; the rest to the pool

    def __post_init__(self) -> None:
        fractions = {
            "trust_damping": self.trust_damping,
            "closure_tolerance": self.closure_tolerance,
            "misleading_trust_factor": self.misleading_trust_factor,
            "author_share": self.author_share,
            "curation_floor": self.curation_floor,
            "slash_fraction": self.slash_fraction,
            "note_writer_share": self.note_writer_share,
        }
        for name, value in fractions.items():
            if not 0.0 <= value <= 1.0:
                raise invalid(f"{name} must be between 0 and 1")
        if self.trust_damping >= 1.0:
            raise invalid("trust_damping must be below 1")
        positive = {
            "trust_cap": self.trust_cap,
            "cluster_resolution": self.cluster_resolution,
            "in_cluster_tolerance": self.in_cluster_tolerance,
            "concave_knee": self.concave_knee,
            "downvote_knee": self.downvote_knee,
        }
        for name, value in positive.items():
            if not value > 0.0:
                raise invalid(f"{name} must be positive")
        if self.downvote_budget < 0.0 or self.bridging_bonus < 0.0:
            raise invalid("downvote_budget and bridging_bonus must not be negative")
        shares = (self.ring_largest, self.ring_explained, self.ring_balance)
        if not all(0.0 <= value <= 1.0 for value in shares):
            raise invalid("ring_largest, ring_explained and ring_balance must be between 0 and 1")
        if not -1.0 < self.ring_edge < 1.0 or min(self.ring_preference, self.ring_min_z) < 0.0:
            raise invalid(
                "ring_edge must be in (-1, 1), ring_preference and ring_min_z not negative"
            )
        if self.ring_epochs < 1 or self.ring_vectors < 0:
            raise invalid("ring_epochs must be positive and ring_vectors not negative")
        if self.trust_iterations < 1 or self.cluster_rounds < 0:
            raise invalid("trust_iterations must be positive and cluster_rounds not negative")


DEFAULT_PARAMS = Params()
