"""Audience digests of franked group messages: every member's proof gives the digest and nobody
else's does, a fresh key makes one group's digests and leaves unlinkable, a proof shows nothing
of the other members, and junk decodes only to Rejected.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core.keys import RandomBytes
from koinon.errors import Rejected
from koinon.messaging.audience import MAX_AUDIENCE, Audience, AudienceProof, make_audience


def people(n: int) -> list[str]:
    return [hashlib.sha256(b"person %d" % i).hexdigest() for i in range(n)]


def test_every_member_proves_the_digest_and_nobody_else(random_bytes: RandomBytes) -> None:
    members = people(5)
    audience = make_audience(reversed(members), random_bytes)
    assert audience.members == tuple(sorted(members))
    digest = audience.digest()
    assert len(digest) == 64 and digest == audience.digest()
    outsider = people(6)[5]
    for member in members:
        proof = audience.proof(member)
        assert proof.size == 5 and proof.digest_for(member) == digest
        assert proof.digest_for(outsider) != digest  # someone else holding the proof
        other = next(m for m in members if m != member)
        assert proof.digest_for(other) != digest
    with pytest.raises(Rejected, match="not a member"):
        audience.proof(outsider)


def test_fresh_keys_make_digests_and_leaves_unlinkable(random_bytes: RandomBytes) -> None:
    members = people(3)
    first, second = make_audience(members, random_bytes), make_audience(members, random_bytes)
    assert first.digest() != second.digest()
    leaves_first = set(first.proof(members[0]).others)
    assert leaves_first.isdisjoint(second.proof(members[0]).others)
    # A leaf is not any plain hash of a member's key: without the audience key it names no one.
    plain = {hashlib.sha256(bytes.fromhex(m)).digest() for m in members}
    assert leaves_first.isdisjoint(plain)


def test_one_person_audience_and_the_largest(random_bytes: RandomBytes) -> None:
    (alone,) = people(1)
    audience = make_audience([alone], random_bytes)
    assert audience.proof(alone).others == ()
    assert audience.proof(alone).digest_for(alone) == audience.digest()
    largest = make_audience(people(MAX_AUDIENCE), random_bytes)
    assert Audience.decode(largest.encode()) == largest
    with pytest.raises(Rejected, match=f"at most {MAX_AUDIENCE}"):
        make_audience(people(MAX_AUDIENCE + 1), random_bytes)


def test_encodings_round_trip(random_bytes: RandomBytes) -> None:
    audience = make_audience(people(4), random_bytes)
    assert Audience.decode(audience.encode()) == audience
    proof = audience.proof(people(4)[2])
    assert AudienceProof.decode(proof.encode()) == proof
    assert len(proof.encode()) == 32 * 4


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"short", "32-byte key"),
        (bytes(32) + bytes(31), "values of 32 bytes"),
        (bytes(32) + b"".join(bytes.fromhex(p) for p in sorted(people(2))[::-1]), "sorted"),
        (bytes(32) + bytes.fromhex(people(1)[0]) * 2, "sorted"),
        (bytes(32) + bytes(32) * (MAX_AUDIENCE + 1), "at most"),
    ],
    ids=["no-key", "ragged", "unsorted", "repeated", "too-many"],
)
def test_malformed_audiences_are_rejected(data: bytes, needle: str) -> None:
    with pytest.raises(Rejected, match=needle):
        Audience.decode(data)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.binary(max_size=200))
def test_junk_decodes_only_to_rejected(data: bytes) -> None:
    for decode in (Audience.decode, AudienceProof.decode):
        try:
            value = decode(data)
        except Rejected:
            continue
        assert type(value).decode(value.encode()) == value
