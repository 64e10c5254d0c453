"""Regenerate kat.json, the frozen wire format of sessions: `python -m tests.sessions.make_kat`.

Everything comes from seeded `random.Random(...).randbytes`, so the output is byte-identical on
every run; test_kat.py fails when code changes the bytes on the wire.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.sessions.pairing import handshake

KAT_PATH = Path(__file__).with_name("kat.json")
SEED = 2024


def build() -> dict[str, Any]:
    """The known answers: bundle JSON, initial header, first three messages each way."""
    run = handshake(SEED)
    alice, bob = run.alice, run.bob_ratchet
    to_bob = [(b"alice to bob %d" % i, alice.encrypt(b"alice to bob %d" % i)) for i in range(3)]
    for plaintext, message in to_bob:
        assert bob.decrypt(message) == plaintext
    to_alice = [(b"bob to alice %d" % i, bob.encrypt(b"bob to alice %d" % i)) for i in range(3)]
    for plaintext, message in to_alice:
        assert alice.decrypt(message) == plaintext
    return {
        "description": "Koinon sessions v1 known answers; regenerate with make_kat.py",
        "seeds": {"alice": SEED, "bob": SEED + 10_000},
        "alice_nostr_public": run.alice_identity.nostr_public.hex(),
        "bob_bundle_json": run.bob.bundle.to_json(),
        "initial_header": run.header.to_bytes().hex(),
        "shared_secret": run.shared_secret.hex(),
        "associated_data": bob.associated_data.hex(),
        "alice_to_bob": [{"plaintext": p.decode(), "message": m.hex()} for p, m in to_bob],
        "bob_to_alice": [{"plaintext": p.decode(), "message": m.hex()} for p, m in to_alice],
    }


def render() -> str:
    """kat.json's exact text."""
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    KAT_PATH.write_text(render())
