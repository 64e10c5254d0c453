"""Interop with nostr-tools (Node.js): NIP-44 payloads and NIP-17 gift wraps, both directions.

* NIP-44 v2: for the same conversation key and nonce both implementations produce byte-identical
  payloads, and each decrypts the other's; nostr-tools' extended length prefix (>= 65,536 bytes)
  decrypts in Koinon; payloads Koinon rejects are rejected by nostr-tools too.
* NIP-17: Koinon wraps a message that nostr-tools unwraps for every participant, and nostr-tools
  wraps one that Koinon unwraps, with sender, content, subject and reply intact. (nostr-tools
  gives each copy its own rumor tagging only that copy's reader, unlike NIP-17's one rumor that
  tags the whole room.)

Needs ``node`` (>= 20) and ``npm ci --prefix tests/interop``; skipped without them, except under
CI (environment variable ``CI`` set), where they fail instead.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from koinon.core.event import parse_event, sign_event
from koinon.core.keys import SecretKey
from koinon.errors import Rejected
from koinon.messaging import nip44
from koinon.messaging.chat import wrap_message
from koinon.messaging.giftwrap import (
    SEAL_KIND,
    TIMESTAMP_WINDOW,
    gift_wrap,
    make_rumor,
    unwrap,
)
from tests.helpers import VECTORS, node_for_interop
from tests.messaging.parties import ALICE, BOB, CAROL, MALLORY

pytestmark = pytest.mark.interop

INTEROP = Path(__file__).resolve().parents[1] / "interop"
SCRIPT = INTEROP / "nip17.mjs"
NIP44_VECTORS = VECTORS / "nip44.vectors.json"
REPLY_TO = "ef" * 32

PLAINTEXTS = [
    "a",
    "x" * 32,
    "x" * 33,
    "hello, koinon",
    '"quotes" \\ backslashes \n newlines \u0000 nul',
    "\u2028\u2029\ufeff\ufffd",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 family",
    "\u4e2d\u6587 \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "é" * 300,
    "y" * 65_535,
]


@pytest.fixture(scope="module")
def node() -> str:
    """Path of the node binary, after checking that the harness can run."""
    return node_for_interop(("nostr-tools",))


def run(node: str, mode: str, payload: object) -> Any:
    """Run `nip17.mjs MODE` with `payload` as JSON on stdin and return its JSON output."""
    stdin = json.dumps(payload, ensure_ascii=True).encode("ascii")
    proc = subprocess.run(
        [node, str(SCRIPT), mode], cwd=INTEROP, input=stdin, capture_output=True, timeout=120
    )
    try:
        out = json.loads(proc.stdout.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AssertionError(
            f"nip17.mjs {mode}: output is not JSON ({exc}); exit {proc.returncode}\n"
            f"stdout: {proc.stdout[:2000]!r}\nstderr: {proc.stderr[-4000:]!r}"
        ) from exc
    assert proc.returncode == 0, f"nip17.mjs {mode} exited {proc.returncode}: {out!r}"[:4000]
    return out


def _key_pairs(count: int) -> list[tuple[SecretKey, SecretKey]]:
    rng = random.Random(44)
    return [
        (SecretKey.generate(rng.randbytes), SecretKey.generate(rng.randbytes)) for _ in range(count)
    ]


# --------------------------------------------------------------------------------------------
# NIP-44


def test_conversation_keys_agree(node: str) -> None:
    pairs = _key_pairs(8)
    out = run(
        node, "conversation-key", [{"secret": a.hex, "pubkey": b.public_key} for a, b in pairs]
    )
    for (a, b), theirs in zip(pairs, out, strict=True):
        assert theirs == {"conversation_key": nip44.conversation_key(a.raw, b.public_key).hex()}


def test_payloads_are_byte_identical_and_cross_decrypt(node: str) -> None:
    rng = random.Random(2)
    cases = []
    for (a, b), text in zip(_key_pairs(len(PLAINTEXTS)), PLAINTEXTS, strict=True):
        conv, nonce = nip44.conversation_key(a.raw, b.public_key), rng.randbytes(32)
        cases.append((conv, nonce, text, nip44.encrypt(text, conv, nonce)))
    theirs = run(
        node,
        "encrypt",
        [{"conversation_key": c.hex(), "nonce": n.hex(), "plaintext": t} for c, n, t, _ in cases],
    )
    assert [o["payload"] for o in theirs] == [ours for *_, ours in cases]
    decrypted = run(
        node, "decrypt", [{"conversation_key": c.hex(), "payload": p} for c, _, _, p in cases]
    )
    assert [o["plaintext"] for o in decrypted] == [t for _, _, t, _ in cases]
    for (conv, _, text, _), out in zip(cases, theirs, strict=True):
        assert nip44.decrypt(out["payload"], conv) == text


@pytest.mark.parametrize("size", [65_536, 100_000])
def test_extended_length_prefix_from_nostr_tools_decrypts(node: str, size: int) -> None:
    conv, nonce = nip44.conversation_key(ALICE.raw, BOB.public_key), bytes(range(32))
    text = "".join(chr(ord("a") + i % 26) for i in range(size))
    [out] = run(
        node, "encrypt", [{"conversation_key": conv.hex(), "nonce": nonce.hex(), "plaintext": text}]
    )
    assert nip44.decrypt(out["payload"], conv) == text
    # Koinon builds the same bytes by hand, but never sends more than 65,535 bytes itself.
    raw = text.encode()
    padded = b"\x00\x00" + size.to_bytes(4, "big") + raw
    padded += bytes(nip44.calc_padded_len(size) - size)
    assert nip44.encrypt_padded(padded, conv, nonce) == out["payload"]
    with pytest.raises(Rejected):
        nip44.encrypt(text, conv, nonce)


def test_payloads_koinon_rejects_are_rejected_by_nostr_tools(node: str) -> None:
    cases = json.loads(NIP44_VECTORS.read_text("utf-8"))["v2"]["invalid"]["decrypt"]
    out = run(
        node,
        "decrypt",
        [{"conversation_key": c["conversation_key"], "payload": c["payload"]} for c in cases],
    )
    assert all("error" in o for o in out), out


# --------------------------------------------------------------------------------------------
# NIP-17


def test_koinon_wraps_nostr_tools_unwraps(node: str) -> None:
    now = int(time.time())
    wraps = wrap_message(
        ALICE.raw,
        [BOB.public_key, CAROL.public_key],
        "from koinon \U0001f600",
        now,
        random.Random(17).randbytes,
        reply_to=REPLY_TO,
        subject="interop",
    )
    expected = unwrap(wraps[0], BOB.raw).rumor.to_dict()
    for wrap, reader in zip(wraps, (BOB, CAROL, ALICE), strict=True):
        [out] = run(node, "unwrap", {"secret": reader.hex, "wraps": [wrap.to_dict()]})
        assert out == {"rumor": expected}
    [outsider] = run(node, "unwrap", {"secret": MALLORY.hex, "wraps": [wraps[0].to_dict()]})
    assert "error" in outsider


def test_nostr_tools_wraps_koinon_unwraps(node: str) -> None:
    start = int(time.time())
    wraps = run(
        node,
        "wrap",
        {
            "secret": ALICE.hex,
            "recipients": [BOB.public_key, CAROL.public_key],
            "message": "from nostr-tools \u2028 \U0001f600",
            "subject": "interop",
            "reply_to": REPLY_TO,
        },
    )
    end = int(time.time()) + 1
    assert len(wraps) == 3  # the sender's copy, then one per recipient
    for raw, reader in zip(wraps, (ALICE, BOB, CAROL), strict=True):
        wrap = parse_event(raw)
        assert wrap.first_tag("p") == reader.public_key
        assert wrap.pubkey != ALICE.public_key
        assert start - TIMESTAMP_WINDOW - 1 <= wrap.created_at <= end
        opened = unwrap(wrap, reader.raw)
        assert opened.sender == ALICE.public_key
        rumor = opened.rumor
        assert rumor.kind == 14
        assert rumor.content == "from nostr-tools \u2028 \U0001f600"
        # nostr-tools 2.x builds a separate rumor per copy, each `p`-tagging only that copy's
        # reader (NIP-17 puts every participant in one rumor; Koinon does that).
        assert rumor.tag_values("p") == [reader.public_key]
        assert rumor.tag_values("subject") == ["interop"]
        assert rumor.tag_values("e") == [REPLY_TO]
        assert start - 1 <= rumor.created_at <= end
        with pytest.raises(Rejected):
            unwrap(wrap, MALLORY.raw)


def test_impersonation_is_rejected_by_both(node: str) -> None:
    rng = random.Random(13)
    forged = make_rumor(ALICE.public_key, kind=14, content="pay mallory", created_at=1, tags=[])
    conv = nip44.conversation_key(MALLORY.raw, BOB.public_key)
    sealed = sign_event(
        MALLORY.raw,
        kind=SEAL_KIND,
        content=nip44.encrypt(forged.to_json(), conv, rng.randbytes(32)),
        created_at=1,
        aux_rand=rng.randbytes(32),
    )
    wrap = gift_wrap(sealed, BOB.public_key, now=10**9, random_bytes=rng.randbytes)
    with pytest.raises(Rejected, match="impersonation"):
        unwrap(wrap, BOB.raw)
    [out] = run(node, "unwrap", {"secret": BOB.hex, "wraps": [wrap.to_dict()]})
    assert "does not match seal pubkey" in out["error"]
