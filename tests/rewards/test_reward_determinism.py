"""Every node must compute the same payouts: input order and the process must not matter."""

from __future__ import annotations

import subprocess
import sys

from koinon.rewards.settle import settle_epoch
from tests.helpers import ROOT
from tests.rewards.reward_builders import digest, world_epoch


def test_shuffled_input_gives_the_same_settlement() -> None:
    plain = settle_epoch(world_epoch(5))
    assert sum(p.author + p.curation for p in plain.payouts) == world_epoch(5).pool
    for shuffle in (1, 2):
        assert settle_epoch(world_epoch(5, shuffle)) == plain


def test_another_process_computes_the_same_settlement() -> None:
    code = "from tests.rewards.reward_builders import digest; print(digest(7, 11))"
    other = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert other.stdout.strip() == digest(7, None)
