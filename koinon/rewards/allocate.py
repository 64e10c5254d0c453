"""Integer shares of an amount: exact sums and a deterministic remainder."""

from __future__ import annotations

import numpy as np

from koinon.rewards.arrays import FloatArray

_GRID = 2.0**52  # weights are rounded to this many steps of the largest before integer maths


def allocate(total: int, weights: FloatArray) -> list[int]:
    """Split `total` base units in proportion to `weights`; the parts sum to `total` exactly.

    Weights become integers first (a fixed grid relative to the largest), so the split itself is
    integer arithmetic. Each part is floored and the units left over go one each to the largest
    remainders, ties to the lowest index (the smallest pubkey). All zeros when no weight is
    positive: the caller decides where an undistributable amount goes.
    """
    count = weights.shape[0]
    if total <= 0 or count == 0:
        return [0] * count
    clean = np.where(weights > 0.0, weights, 0.0)
    top = float(clean.max())
    if top <= 0.0:
        return [0] * count
    steps = np.floor(clean / top * _GRID).astype(np.int64).tolist()
    whole = sum(steps)
    parts = [0] * count
    remainders: list[tuple[int, int]] = []
    for i, step in enumerate(steps):
        if step:
            parts[i], rest = divmod(total * step, whole)
            remainders.append((-rest, i))
    left = total - sum(parts)
    for _, i in sorted(remainders)[:left]:
        parts[i] += 1
    return parts
