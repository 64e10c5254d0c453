"""NIP-13 proof of work, and the admission policy (`koinon.core.admission`) that applies it."""

from __future__ import annotations

import pytest

from koinon.core.admission import admit
from koinon.core.event import Event, parse_event, sign_event
from koinon.core.pow import check_pow, committed_target, difficulty
from koinon.errors import Reason, Rejected
from koinon.settings import Limits

SECRET = bytes.fromhex("67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa")
NOW = 1_700_000_000


def event_with(
    event_id: str = "f" * 64, tags: list[list[str]] | None = None, created_at: int = NOW
) -> Event:
    """A well-shaped event with a chosen id: difficulty is a property of the id alone."""
    return parse_event(
        {
            "id": event_id,
            "pubkey": "a" * 64,
            "created_at": created_at,
            "kind": 1,
            "tags": tags or [],
            "content": "",
            "sig": "0" * 128,
        }
    )


# -- difficulty ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_id", "bits"),
    [
        ("000000000e9d97a1ab09fc381030b346cdd7a142ad57e6df0b46dc9bef6c7e2d", 36),
        ("000006d8c378af1779d2feebc7603a125d99eca0ccf1085959b307f64e5dd358", 21),
        ("0" * 64, 256),
        ("0" * 63 + "1", 255),
        ("8" + "0" * 63, 0),
        ("f" * 64, 0),
        ("7" + "f" * 63, 1),
        ("1" + "0" * 63, 3),
        ("00" + "f" * 62, 8),
    ],
    ids=["nip13-36", "nip13-21", "zero", "one", "top-bit", "ones", "seven", "one-nibble", "byte"],
)
def test_difficulty(event_id: str, bits: int) -> None:
    assert difficulty(event_id) == bits


@pytest.mark.parametrize(
    ("tags", "target"),
    [
        ([["nonce", "776797", "20"]], 20),
        ([["nonce", "776797"]], None),
        ([["nonce", "1", "many"]], None),
        ([["t", "x", "5"], ["nonce", "1", "7"]], 7),
        ([], None),
    ],
    ids=["committed", "no-target", "not-a-number", "after-other-tags", "no-tags"],
)
def test_committed_target(tags: list[list[str]], target: int | None) -> None:
    assert committed_target(event_with(tags=tags)) == target


# -- check_pow -----------------------------------------------------------------------------------

HARD_ID = "000000000e9d97a1ab09fc381030b346cdd7a142ad57e6df0b46dc9bef6c7e2d"  # 36 bits


def test_no_minimum_accepts_anything() -> None:
    check_pow(event_with("f" * 64), 0)
    check_pow(event_with("f" * 64, tags=[["nonce", "1", "0"]]), 0)


def test_enough_work_is_accepted() -> None:
    check_pow(event_with(HARD_ID), 36)
    check_pow(event_with(HARD_ID, tags=[["nonce", "1", "36"]]), 30)


def test_too_little_work_is_rejected_pow() -> None:
    with pytest.raises(Rejected) as info:
        check_pow(event_with(HARD_ID), 37)
    assert info.value.reason is Reason.POW
    assert info.value.wire.startswith("pow: ")


def test_committed_target_below_minimum_is_rejected_pow() -> None:
    # The id has 36 bits, but the author only aimed at 20: a lucky hit does not count (NIP-13).
    with pytest.raises(Rejected) as info:
        check_pow(event_with(HARD_ID, tags=[["nonce", "776797", "20"]]), 30)
    assert info.value.reason is Reason.POW


# -- admission -----------------------------------------------------------------------------------


def signed(content: str = "", tags: list[list[str]] | None = None, created_at: int = NOW) -> Event:
    return sign_event(
        SECRET, kind=1, content=content, created_at=created_at, aux_rand=bytes(32), tags=tags or []
    )


def assert_refused(event: Event, limits: Limits, reason: Reason = Reason.INVALID) -> None:
    with pytest.raises(Rejected) as info:
        admit(event, limits, NOW)
    assert info.value.reason is reason


def test_ordinary_event_is_admitted() -> None:
    admit(signed("hello", [["t", "x"]]), Limits(), NOW)
    admit(signed(created_at=0), Limits(), NOW)


def test_future_created_at() -> None:
    limits = Limits(max_future_seconds=900)
    admit(signed(created_at=NOW + 900), limits, NOW)
    assert_refused(signed(created_at=NOW + 901), limits)


def test_too_many_tags() -> None:
    limits = Limits(max_event_tags=3)
    admit(signed(tags=[["t", "x"]] * 3), limits, NOW)
    assert_refused(signed(tags=[["t", "x"]] * 4), limits)


def test_content_limit_counts_utf8_bytes() -> None:
    limits = Limits(max_content_bytes=10)
    admit(signed("x" * 10), limits, NOW)
    admit(signed("é" * 5), limits, NOW)
    assert_refused(signed("x" * 11), limits)
    assert_refused(signed("é" * 6), limits)
    assert_refused(signed("\U0001f600" * 3), limits)


def test_minimum_pow_is_applied() -> None:
    assert_refused(event_with("f" * 64), Limits(min_pow=1), Reason.POW)
    admit(event_with(HARD_ID), Limits(min_pow=36), NOW)
