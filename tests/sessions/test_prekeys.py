"""Prekey bundles: canonical JSON, signature checks, strict parsing; the one-time prekey store."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koinon.sessions import BundleError, OneTimePrekeys, PrekeyBundle, PrekeyError, StateError

from .pairing import make_responder, seeded


def bundle_dict() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(make_responder(seeded(5)).bundle.to_json())
    return result


def test_bundle_json_round_trip_is_canonical() -> None:
    bundle = make_responder(seeded(5)).bundle
    text = bundle.to_json()
    assert PrekeyBundle.from_json(text) == bundle
    assert PrekeyBundle.from_json(text).to_json() == text
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    assert [p["id"] for p in json.loads(text)["one_time_prekeys"]] == [1, 2, 3]


def _flip(hex_text: str) -> str:
    return ("1" if hex_text[0] == "0" else "0") + hex_text[1:]


@pytest.mark.parametrize(
    "path",
    [("identity",), ("identity_dh",), ("signed_prekey", "public"), ("signed_prekey", "signature")],
    ids=lambda p: ".".join(p),
)
def test_bad_signed_prekey_signature_rejected(path: tuple[str, ...]) -> None:
    data = bundle_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = _flip(target[path[-1]])
    with pytest.raises(BundleError):
        PrekeyBundle.from_json(json.dumps(data))


def test_changed_signed_prekey_id_breaks_signature() -> None:
    data = bundle_dict()
    data["signed_prekey"]["id"] += 1
    with pytest.raises(BundleError, match="signature"):
        PrekeyBundle.from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.update(v=2), "version"),
        (lambda d: d.update(v=True), "version"),
        (lambda d: d.update(extra=1), "keys"),
        (lambda d: d.pop("identity_dh"), "keys"),
        (lambda d: d.update(identity=d["identity"].upper()), "identity"),
        (lambda d: d["signed_prekey"].update(id=-1), "ids"),
        (lambda d: d["signed_prekey"].update(id=2**32), "ids"),
        (lambda d: d["one_time_prekeys"].append(d["one_time_prekeys"][0]), "duplicate"),
        (lambda d: d.update(one_time_prekeys={}), "list"),
        (lambda d: d["one_time_prekeys"][0].update(public="00"), "hex"),
    ],
    ids=["v2", "v-bool", "extra", "missing", "upper", "neg-id", "big-id", "dup", "dict", "short"],
)
def test_malformed_bundles_rejected(mutate: Any, reason: str) -> None:
    data = bundle_dict()
    mutate(data)
    with pytest.raises(BundleError, match=reason):
        PrekeyBundle.from_json(json.dumps(data))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_junk_bundle_text_raises_bundle_error(junk: bytes | str) -> None:
    with pytest.raises(BundleError):
        PrekeyBundle.from_json(junk)


@given(json_values, st.sampled_from(["identity", "identity_dh", "signed_prekey", "v"]))
def test_junk_bundle_fields_raise_bundle_error(value: object, key: str) -> None:
    data = bundle_dict()
    data[key] = value
    with contextlib.suppress(BundleError):
        PrekeyBundle.from_json(json.dumps(data))


def test_one_time_prekey_consumed_exactly_once() -> None:
    store = OneTimePrekeys.generate(10, 3, seeded(6))
    key, rest = store.consume(11)
    assert len(rest) == 2 and len(store) == 3
    assert key == store.keys[11]
    with pytest.raises(PrekeyError, match="already used"):
        rest.consume(11)
    with pytest.raises(PrekeyError):
        store.consume(99)


def test_one_time_prekey_store_round_trip() -> None:
    store = OneTimePrekeys.generate(1, 4, seeded(7))
    assert OneTimePrekeys.from_bytes(store.to_bytes()) == store


@given(st.binary(max_size=200))
def test_junk_prekey_store_raises_state_error(junk: bytes) -> None:
    with contextlib.suppress(StateError):
        OneTimePrekeys.from_bytes(junk)
