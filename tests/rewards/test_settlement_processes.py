"""Two separate Python processes settle the same epoch from the same signed events, fed in
different orders (and with different hash seeds), and publish the identical settlement root."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import orjson

from koinon.core.event import decode_event
from koinon.rewards.config import RewardsConfig
from koinon.rewards.events import epoch_columns
from koinon.rewards.settlement import counted_upvotes, settle
from tests.helpers import ROOT, make_event, make_key, pubkey_of

KEYS = [make_key(1200 + i) for i in range(12)]
CONFIG = RewardsConfig(genesis=0, epoch_seconds=1_000, trust_seeds=(pubkey_of(KEYS[0]),))
SETTLE = """
import sys, orjson
from koinon.core.event import decode_event
from koinon.rewards.config import RewardsConfig
from koinon.rewards.events import epoch_columns
from koinon.rewards.settlement import counted_upvotes, settle
raw = orjson.loads(sys.stdin.buffer.read())
config = RewardsConfig.from_dict(raw["config"])
events = [decode_event(orjson.dumps(e)) for e in raw["events"]]
print(settle(events, config, raw["epoch"]).root.hex())
"""


def events() -> list[dict[str, object]]:
    rng = random.Random(5)
    start = 7_000
    out = []
    for key in KEYS:
        followed = rng.sample([k for k in KEYS if k != key], 4)
        out.append(make_event(key, 3, "", [["p", pubkey_of(k)] for k in followed], start - 1))
    posts = [make_event(KEYS[i], 1, f"post {i}", created_at=start + i) for i in range(6)]
    out += posts
    for i, key in enumerate(KEYS):
        for post in rng.sample(posts, 3):
            content = rng.choice(["+", "+", "-"])
            out.append(make_event(key, 7, content, [["e", post.id]], start + 20 + i))
    return [e.to_dict() for e in out]


def settle_elsewhere(payload: bytes, hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, "-c", SETTLE],
        input=payload,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return result.stdout.decode().strip()


def test_two_processes_agree_whatever_the_order(tmp_path: Path) -> None:
    raw = events()
    shuffled = list(raw)
    random.Random(9).shuffle(shuffled)
    first = orjson.dumps({"config": CONFIG.to_dict(), "epoch": 7, "events": raw})
    second = orjson.dumps({"config": CONFIG.to_dict(), "epoch": 7, "events": shuffled[::-1]})
    root_a = settle_elsewhere(first, "1")
    root_b = settle_elsewhere(second, "2")
    assert root_a == root_b
    assert len(root_a) == 64 and root_a != "00" * 32
    here = settle([decode_event(orjson.dumps(e)) for e in shuffled], CONFIG, 7)
    assert here.root.hex() == root_a


SETTLE_WITH_EARLIER = """
import sys, orjson
from koinon.core.event import decode_event
from koinon.rewards.config import RewardsConfig
from koinon.rewards.events import epoch_columns
from koinon.rewards.settlement import counted_upvotes, settle
raw = orjson.loads(sys.stdin.buffer.read())
config = RewardsConfig.from_dict(raw["config"])
def read(events):
    return [decode_event(orjson.dumps(e)) for e in events]
earlier = [
    counted_upvotes(epoch_columns(read(events), config, epoch))
    for epoch, events in raw["earlier"]
]
settlement = settle(read(raw["events"]), config, raw["epoch"], earlier=earlier)
print(settlement.root.hex(), settlement.upvotes_digest, *settlement.earlier)
"""

MANY = [make_key(1300 + i) for i in range(60)]
SEEDED = RewardsConfig(
    genesis=0, epoch_seconds=1_000, trust_seeds=tuple(pubkey_of(k) for k in MANY[20:24])
)


def epoch_of(epoch: int, rng: random.Random) -> list[dict[str, object]]:
    """Sixty people post once and upvote eight posts each; ten also upvote each other (the
    detector runs on the window, though a graph this small shows it no group)."""
    start = epoch * 1_000
    posts = [make_event(key, 1, f"{epoch}:{i}", created_at=start + i) for i, key in enumerate(MANY)]
    out = list(posts)
    for i, key in enumerate(MANY):
        liked = rng.sample(posts, 8) + (rng.sample(posts[:10], 6) if i < 10 else [])
        for post in {p.id: p for p in liked if p.pubkey != pubkey_of(key)}.values():
            out.append(make_event(key, 7, "+", [["e", post.id]], start + 100 + i))
    return [e.to_dict() for e in out]


def test_two_processes_agree_with_the_earlier_epochs_read() -> None:
    rng = random.Random(11)
    follows = [
        make_event(key, 3, "", [["p", pubkey_of(k)] for k in rng.sample(MANY, 6)], 1_500).to_dict()
        for key in MANY
    ]
    earlier = [(epoch, epoch_of(epoch, rng)) for epoch in range(2, 7)]
    own = follows + epoch_of(7, rng)

    def payload(order: int) -> bytes:
        mixed = random.Random(order)
        lists = [list(own)] + [list(events) for _, events in earlier]
        for events in lists:
            mixed.shuffle(events)
        return orjson.dumps(
            {
                "config": SEEDED.to_dict(),
                "epoch": 7,
                "events": lists[0],
                "earlier": [
                    [epoch, events] for (epoch, _), events in zip(earlier, lists[1:], strict=True)
                ],
            }
        )

    outputs = []
    for order, seed in ((1, "1"), (2, "2")):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", SETTLE_WITH_EARLIER],
            input=payload(order),
            capture_output=True,
            env=env,
            cwd=ROOT,
            timeout=120,
            check=True,
        )
        outputs.append(result.stdout.decode().split())
    assert outputs[0] == outputs[1]
    root, _, *read = outputs[0]
    assert len(read) == 5 and root != "00" * 32
    # and this process, reading the earlier epochs in their own order, agrees
    here = settle(
        [decode_event(orjson.dumps(e)) for e in own],
        SEEDED,
        7,
        earlier=[
            counted_upvotes(
                epoch_columns([decode_event(orjson.dumps(e)) for e in events], SEEDED, k)
            )
            for k, events in earlier
        ],
    )
    assert [here.root.hex(), here.upvotes_digest, *here.earlier] == outputs[0]
