"""Hypothesis: any interleaving of sends and deliveries decrypts; junk raises only our errors."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.sessions import Ratchet, SessionError

from .pairing import connected_pair, handshake, seeded

Action = tuple[str, int]
actions = st.lists(
    st.tuples(
        st.sampled_from(["send-a", "send-b", "to-a", "to-b", "drop-a", "drop-b"]),
        st.integers(0, 50),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(actions, st.integers(0, 2**16))
def test_random_interleavings_always_decrypt(script: list[Action], seed: int) -> None:
    run = handshake(seed)
    parties = {"a": run.alice, "b": run.bob_ratchet}
    in_flight: dict[str, list[tuple[bytes, bytes]]] = {"a": [], "b": []}  # by recipient
    bob_can_send = False
    count = 0
    for action, pick in script:
        kind, who = action.split("-")
        if kind == "send":
            if who == "b" and not bob_can_send:
                continue
            count += 1
            text = b"%s %d" % (who.encode(), count)
            in_flight["b" if who == "a" else "a"].append((parties[who].encrypt(text), text))
        elif in_flight[who] and kind in ("to", "drop"):
            message, text = in_flight[who].pop(pick % len(in_flight[who]))
            if kind == "to":
                assert parties[who].decrypt(message) == text
                bob_can_send = bob_can_send or who == "b"
    for who, pending in in_flight.items():
        for message, text in pending:
            if who == "b" or bob_can_send:
                assert parties[who].decrypt(message) == text


_ALICE, _BOB = connected_pair(30)
_VALID = _ALICE.encrypt(b"valid message")


@given(st.binary(max_size=120))
def test_junk_messages_raise_session_errors_only(junk: bytes) -> None:
    before = _BOB.to_bytes()
    with contextlib.suppress(SessionError):
        _BOB.decrypt(junk)
    assert _BOB.to_bytes() == before


@given(st.integers(0, len(_VALID) - 1), st.integers(1, 255), st.binary(max_size=4))
def test_mutated_messages_rejected_without_state_change(pos: int, flip: int, tail: bytes) -> None:
    message = bytearray(_VALID)
    message[pos] ^= flip
    before = _BOB.to_bytes()
    try:
        _BOB.decrypt(bytes(message) + tail)
    except SessionError:
        pass
    else:
        raise AssertionError("a mutated message decrypted")
    assert _BOB.to_bytes() == before


@given(st.binary(max_size=400))
def test_junk_state_raises_state_errors_only(junk: bytes) -> None:
    try:
        restored = Ratchet.from_bytes(junk, seeded(0))
    except SessionError:
        return
    with contextlib.suppress(SessionError):
        restored.decrypt(_VALID)
