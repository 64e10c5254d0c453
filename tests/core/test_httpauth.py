"""NIP-98 HTTP Auth: a signed kind-27235 event authorizes one method, URL and body, briefly."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core import httpauth
from koinon.errors import Reason, Rejected
from tests.helpers import AUX_RAND, make_event, make_key, pubkey_of

KEY = make_key(98)
URL = "http://127.0.0.1:7447/api/franking/stamp"
BODY = b'{"commitment":"00"}'
NOW = 1_750_000_000


def _header(url: str = URL, method: str = "POST", body: bytes = BODY, now: int = NOW) -> str:
    return httpauth.authorization(KEY, url, method, body, now=now, aux_rand=AUX_RAND)


def _verify(header: str | None, body: bytes = BODY, now: int = NOW) -> str:
    return httpauth.verify_authorization(header, {URL}, "POST", body, now=now).pubkey


def _encoded(event_dict: dict[str, object]) -> str:
    return "Nostr " + base64.b64encode(orjson.dumps(event_dict)).decode()


def test_an_honest_authorization_names_its_signer() -> None:
    header = _header()
    assert header.startswith("Nostr ")
    event = orjson.loads(base64.b64decode(header[6:]))
    assert event["kind"] == 27235 and event["content"] == ""
    assert ["u", URL] in event["tags"] and ["method", "POST"] in event["tags"]
    assert ["payload", hashlib.sha256(BODY).hexdigest()] in event["tags"]
    assert _verify(header) == pubkey_of(KEY)
    assert _verify(header, now=NOW + 60) == pubkey_of(KEY)  # inside the window


@pytest.mark.parametrize(
    ("header", "body", "now", "needle"),
    [
        (None, BODY, NOW, "sign the request"),
        ("Bearer abc", BODY, NOW, "scheme"),
        ("Nostr !!!", BODY, NOW, "not base64"),
        ("Nostr " + base64.b64encode(b"[1,2]").decode(), BODY, NOW, "not valid"),
        (_header(), BODY, NOW + 61, "within 60 s"),
        (_header(), BODY, NOW - 61, "within 60 s"),
        (_header(url=URL + "?x=1"), BODY, NOW, "another URL"),
        (_header(method="PUT"), BODY, NOW, "another method"),
        (_header(), BODY + b" ", NOW, "payload"),
        (_header(body=b""), BODY, NOW, "payload"),
    ],
    ids=[
        "missing",
        "other-scheme",
        "not-base64",
        "not-an-event",
        "too-late",
        "too-early",
        "other-url",
        "other-method",
        "body-changed",
        "no-payload-tag",
    ],
)
def test_refusals_are_auth_required(header: str | None, body: bytes, now: int, needle: str) -> None:
    with pytest.raises(Rejected) as caught:
        _verify(header, body, now)
    assert caught.value.reason is Reason.AUTH_REQUIRED
    assert needle in caught.value.message


def test_a_forged_signature_or_another_kind_is_refused() -> None:
    event = orjson.loads(base64.b64decode(_header()[6:]))
    forged = dict(event, sig=("0" if event["sig"][0] != "0" else "1") + event["sig"][1:])
    with pytest.raises(Rejected, match="not valid"):
        _verify(_encoded(forged))
    tags = [["u", URL], ["method", "POST"], ["payload", hashlib.sha256(BODY).hexdigest()]]
    other_kind = make_event(KEY, kind=22242, tags=tags, created_at=NOW).to_dict()
    with pytest.raises(Rejected, match="kind 27235"):
        _verify(_encoded(other_kind))


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(junk=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(base64.b64encode)))
def test_junk_headers_raise_only_rejected(junk: str | bytes) -> None:
    text = junk if isinstance(junk, str) else "Nostr " + junk.decode()
    with pytest.raises(Rejected):
        _verify(text)
