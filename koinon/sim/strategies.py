"""The attackers' strategy set: every scheme meets whichever of these pays the attackers most."""

from __future__ import annotations

from koinon.sim.attacks import (
    Strategy,
    buy_from_trusted,
    buy_from_whales,
    early_bot,
    herd,
    honest,
    ring,
    ring_camouflage,
    ring_downvote,
    ring_sparse,
    self_vote,
    sybil,
    sybil_vouched,
)
from koinon.sim.evasion import (
    ring_camouflage_follow,
    ring_choosy,
    ring_choosy5_follow,
    ring_choosy7_follow,
    ring_choosy_faint,
    ring_choosy_faint_follow,
    ring_choosy_follow,
    ring_faint,
    ring_faint_follow,
    ring_follow,
    ring_sparse_follow,
    sybil_vouched_open,
)

# Appended strategies keep the earlier ones' random streams (the runner seeds by position).
STRATEGIES: dict[str, Strategy] = {
    "honest": honest,
    "self_vote": self_vote,
    "ring": ring,
    "ring_camouflage": ring_camouflage,
    "ring_sparse": ring_sparse,
    "ring_downvote": ring_downvote,
    "early_bot": early_bot,
    "sybil": sybil,
    "sybil_vouched": sybil_vouched,
    "buy_from_whales": buy_from_whales,
    "buy_from_trusted": buy_from_trusted,
    "ring_follow": ring_follow,
    "ring_camouflage_follow": ring_camouflage_follow,
    "ring_sparse_follow": ring_sparse_follow,
    "sybil_vouched_open": sybil_vouched_open,
    "ring_faint": ring_faint,
    "ring_faint_follow": ring_faint_follow,
    "ring_choosy": ring_choosy,
    "ring_choosy_follow": ring_choosy_follow,
    "ring_choosy_faint": ring_choosy_faint,
    "ring_choosy_faint_follow": ring_choosy_faint_follow,
    "herd": herd,
    "ring_choosy5_follow": ring_choosy5_follow,
    "ring_choosy7_follow": ring_choosy7_follow,
}
NEEDS_FAKES = frozenset({"sybil", "sybil_vouched", "sybil_vouched_open"})
