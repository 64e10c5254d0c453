"""The figures a settlement is judged by, and their confidence intervals over seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from koinon.sim.log import ATTACKER, HONEST, MINORITY, SYBIL, EventLog, FloatArray
from koinon.sim.schemes import Rewards

FIGURES = (
    "attacker_reward_share",
    "attacker_contribution_share",
    "kendall_tau",
    "minority_camp_share",
    "minority_contribution_share",
    "honest_share",
)


@dataclass(frozen=True)
class Figures:
    """One settlement's figures; shares are of the whole pool."""

    attacker_reward_share: float  # what attackers and their sybils keep, net of votes they bought
    attacker_contribution_share: float  # their share of the hidden quality of all posts
    kendall_tau: float  # rank correlation of each post's author payout with its hidden quality
    minority_camp_share: float  # paid to honest people of the minority camp
    minority_contribution_share: float  # their share of the hidden quality of all posts
    honest_share: float  # paid to honest accounts (vote sellers' income included)


def measure(log: EventLog, rewards: Rewards, transfers: FloatArray | None = None) -> Figures:
    """Figures of one settlement; `transfers` are payments between accounts (vote buying)."""
    paid = rewards.account if transfers is None else rewards.account + transfers
    attacker = (log.role == ATTACKER) | (log.role == SYBIL)
    honest = log.role == HONEST
    minority = honest & (log.camp == MINORITY)
    quality = log.post_quality
    total_quality = float(quality.sum()) or 1.0
    tau = stats.kendalltau(rewards.post_author, quality).statistic
    return Figures(
        attacker_reward_share=float(paid[attacker].sum()),
        attacker_contribution_share=float(quality[attacker[log.post_author]].sum()) / total_quality,
        kendall_tau=0.0 if math.isnan(tau) else float(tau),
        minority_camp_share=float(paid[minority].sum()),
        minority_contribution_share=float(quality[minority[log.post_author]].sum()) / total_quality,
        honest_share=float(paid[honest].sum()),
    )


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with its 95% confidence interval (Student's t)."""

    mean: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        """JSON form."""
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high}


def estimate(values: Sequence[float]) -> Estimate:
    """Mean and 95% confidence interval of independent per-seed values."""
    data = np.asarray(values, dtype=np.float64)
    mean = float(data.mean())
    if data.shape[0] < 2:
        return Estimate(mean, mean, mean)
    half = float(
        stats.t.ppf(0.975, data.shape[0] - 1) * data.std(ddof=1) / math.sqrt(data.shape[0])
    )
    return Estimate(mean, mean - half, mean + half)
