"""Fixed keys and time for the messaging tests: Alice, Bob, Carol and Mallory."""

from __future__ import annotations

from koinon.core.keys import SecretKey

ALICE = SecretKey(bytes.fromhex("11" * 32))
BOB = SecretKey(bytes.fromhex("22" * 32))
CAROL = SecretKey(bytes.fromhex("33" * 32))
MALLORY = SecretKey(bytes.fromhex("44" * 32))
NOW = 1_750_000_000
