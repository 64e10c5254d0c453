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
from koinon.rewards.settlement import settle
from tests.helpers import ROOT, make_event, make_key, pubkey_of

KEYS = [make_key(1200 + i) for i in range(12)]
CONFIG = RewardsConfig(genesis=0, epoch_seconds=1_000, trust_seeds=(pubkey_of(KEYS[0]),))
SETTLE = """
import sys, orjson
from koinon.core.event import decode_event
from koinon.rewards.config import RewardsConfig
from koinon.rewards.settlement import settle
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
