"""The weighted median that the mechanism uses for every "typical" value."""

from __future__ import annotations

import numpy as np

from koinon.rewards.arrays import FloatArray


def weighted_median(values: FloatArray, weights: FloatArray) -> float:
    """The value at which half the total weight lies at or below (the lower one on a tie).

    Ties in value keep their input order (a stable sort), so the result is the same on every
    machine. `values` must not be empty and `weights` must not all be zero.
    """
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])
