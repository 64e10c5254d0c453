"""Interop with an independent Nostr implementation: nostr-tools (npm) run by Node.js.

* Event serialization and ids: Koinon's ``serialize_for_id`` / ``compute_id`` must agree byte for
  byte with nostr-tools' ``serializeEvent`` / ``getEventHash`` on every awkward character.
* Signatures: events signed by nostr-tools' ``finalizeEvent`` must verify in Koinon, and tampered
  copies must be rejected.
* Client scenario: nostr-tools drives a running Koinon node as a real client would (publish,
  query, live subscription, duplicates, invalid events, replaceable and addressable events).

Needs ``node`` (>= 20) on PATH and ``npm ci --prefix tests/interop``. Without them these tests are
skipped, except under CI (environment variable ``CI`` set), where they fail instead.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import node_for_interop

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
EVENT_IDS_JS = HERE / "event_ids.mjs"
SCENARIO_JS = HERE / "client_scenario.mjs"

PUBKEY = "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
CREATED_AT = 1_700_000_000

# Secret keys for --sign: BIP-340 test vectors 0 and 1, and the largest valid key (n - 1).
SECRET_KEYS = [
    "0000000000000000000000000000000000000000000000000000000000000003",
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
    "b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef",
]


# --------------------------------------------------------------------------------------------
# Environment


@pytest.fixture(scope="session")
def node() -> str:
    """Path of the node binary, after checking that the harness can run."""
    return node_for_interop()


def _run_node(
    node: str, args: list[str], stdin: bytes | None, timeout: float
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [node, *args],
        cwd=HERE,
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def _decode_json_output(proc: subprocess.CompletedProcess[bytes], what: str) -> Any:
    try:
        return json.loads(proc.stdout.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AssertionError(
            f"{what}: output is not JSON ({exc}); exit {proc.returncode}\n"
            f"stdout: {proc.stdout[:2000]!r}\nstderr: {proc.stderr[-4000:]!r}"
        ) from exc


def run_event_ids(
    node: str, templates: list[dict[str, Any]], sign: str | None = None
) -> list[dict[str, Any]]:
    args = [str(EVENT_IDS_JS)]
    if sign is not None:
        args += ["--sign", sign]
    # ensure_ascii: every character crosses the pipe as a \u escape; the pipe cannot alter it.
    stdin = json.dumps(templates, ensure_ascii=True).encode("ascii")
    proc = _run_node(node, args, stdin, timeout=60)
    out = _decode_json_output(proc, "event_ids.mjs")
    err = proc.stderr[-4000:]
    assert proc.returncode == 0, f"event_ids.mjs exited {proc.returncode}: {out!r}\n{err!r}"
    assert isinstance(out, list), f"unexpected output: {out!r}"[:2000]
    assert len(out) == len(templates), f"{len(out)} results for {len(templates)} templates"
    return out


# --------------------------------------------------------------------------------------------
# Templates


def _tpl(
    desc: str,
    content: str = "",
    tags: list[list[str]] | None = None,
    *,
    kind: int = 1,
    created_at: int = CREATED_AT,
    pubkey: str = PUBKEY,
) -> dict[str, Any]:
    return {
        "desc": desc,
        "pubkey": pubkey,
        "created_at": created_at,
        "kind": kind,
        "tags": tags if tags is not None else [],
        "content": content,
    }


SPECIAL_CHARS: list[tuple[str, str]] = [
    *[(f"U+{c:04X}", chr(c)) for c in range(0x20)],
    ("U+007F DEL", "\x7f"),
    ("U+0085 NEL", "\x85"),
    ("U+00A0 NBSP", "\xa0"),
    ("U+200B ZWSP", "\u200b"),
    ("U+200D ZWJ", "\u200d"),
    ("U+2028 LINE SEPARATOR", "\u2028"),
    ("U+2029 PARAGRAPH SEPARATOR", "\u2029"),
    ("U+FEFF BOM", "\ufeff"),
    ("U+FFFD", "\ufffd"),
    ("U+FFFE noncharacter", "\ufffe"),
    ("U+FFFF noncharacter", "\uffff"),
    ("U+E000 private use", "\ue000"),
    ("U+D7FF", "\ud7ff"),
    ("U+10000 (first astral)", "\U00010000"),
    ("U+10FFFF (last code point)", "\U0010ffff"),
    ("U+1F600 emoji (surrogate pair in UTF-16)", "\U0001f600"),
    ("U+1D518 math fraktur (surrogate pair)", "\U0001d518"),
    ("U+2070E CJK ext B (surrogate pair)", "\U0002070e"),
    ("family ZWJ sequence", "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"),
    ("rainbow flag ZWJ + VS16", "\U0001f3f3\ufe0f\u200d\U0001f308"),
    ("technologist ZWJ", "\U0001f9d1\u200d\U0001f4bb"),
    ("flag regional indicators", "\U0001f1fa\U0001f1f3"),
    ("thumbs up + skin tone", "\U0001f44d\U0001f3fd"),
    ("keycap", "1\ufe0f\u20e3"),
    ("combining acute", "e\u0301"),
    ("precomposed e acute", "\xe9"),
    ("Hebrew RTL", "\u05e9\u05dc\u05d5\u05dd"),
    ("RLO override", "\u202e"),
    ("CJK", "\u4e2d\u6587"),
    ("backslash", "\\"),
    ("double quote", '"'),
    ("single quote", "'"),
    ("slash", "/"),
    ("closing script tag", "</script>"),
    ("literal backslash-u text", "\\u0000"),
    ("backslash quote", '\\"'),
    ("double backslash n", "\\\\n"),
    ("json-looking text", '{"a":[1,"b"]}'),
]

ALL_C0 = "".join(chr(c) for c in range(0x20))


def _templates() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, ch in SPECIAL_CHARS:
        out.append(_tpl(f"{name} in content", f"a{ch}b{ch}"))
        out.append(_tpl(f"{name} in tags", "", [["t", f"x{ch}y"], [ch], ["e", ch, ch * 2, ""]]))
        out.append(_tpl(f"{name} alone in content and tags", ch, [[ch]]))
    everything = ALL_C0 + "".join(ch for _, ch in SPECIAL_CHARS)
    out.append(_tpl("all C0 controls in content", ALL_C0))
    out.append(_tpl("all C0 controls in a tag", "", [["t", ALL_C0]]))
    all_tags = [["t", everything], [everything, everything]]
    out.append(_tpl("every special string together", everything, all_tags))
    # structure and numbers
    out.append(_tpl("empty content, no tags", ""))
    out.append(_tpl("empty tag and empty string tag", "x", [[], [""], ["", ""]]))
    out.append(_tpl("many tags", "x", [["p", f"{i:064x}", "", "mention"] for i in range(50)]))
    out.append(_tpl("long content", "long \U0001f600 content " * 2000))
    out.append(_tpl("created_at 0, kind 0", '{"name":"x"}', kind=0, created_at=0))
    out.append(_tpl("created_at 2^31", "x", created_at=2**31))
    out.append(_tpl("created_at 2^32", "x", created_at=2**32))
    out.append(_tpl("created_at 2^53-1", "x", created_at=2**53 - 1))
    out.append(_tpl("kind 65535", "x", kind=65535))
    d_tags = [["d", "slug"], ["title", "T\u2028"]]
    out.append(_tpl("kind 30023 with d tag", "# title\n\nbody", d_tags, kind=30023))
    out.append(_tpl("other pubkey", "x", pubkey="00" * 32))
    return out


TEMPLATES = _templates()


def _wire(t: dict[str, Any]) -> dict[str, Any]:
    return {k: t[k] for k in ("pubkey", "created_at", "kind", "tags", "content")}


def _reference_serialization(t: dict[str, Any]) -> bytes:
    """NIP-01 as implemented everywhere: compact JSON, raw UTF-8, JSON escapes for C0 only."""
    return json.dumps(
        [0, t["pubkey"], t["created_at"], t["kind"], t["tags"], t["content"]],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Event ids


@pytest.fixture(scope="module")
def js_ids(node: str) -> list[dict[str, Any]]:
    out = run_event_ids(node, [_wire(t) for t in TEMPLATES])
    errors = [(t["desc"], r["error"]) for t, r in zip(TEMPLATES, out, strict=True) if "error" in r]
    assert not errors, f"nostr-tools refused templates: {errors}"
    return out


def test_harness_transport_and_reference(js_ids: list[dict[str, Any]]) -> None:
    """Sanity of the harness itself: nostr-tools' output round-trips, hashes what it says, and
    equals the plain JSON reference (so nothing was altered crossing the pipes)."""
    problems = []
    for t, r in zip(TEMPLATES, js_ids, strict=True):
        data = r["serialized"].encode("utf-8")
        if data != bytes.fromhex(r["serialized_utf8_hex"]):
            problems.append(f"{t['desc']}: serialized string and hashed bytes differ")
        if hashlib.sha256(data).hexdigest() != r["id"]:
            problems.append(f"{t['desc']}: id is not sha256 of the serialization")
        parsed = json.loads(r["serialized"])
        if parsed != [0, t["pubkey"], t["created_at"], t["kind"], t["tags"], t["content"]]:
            problems.append(f"{t['desc']}: serialization does not parse back to the template")
        ref = _reference_serialization(t)
        if data != ref:
            problems.append(f"{t['desc']}: nostr-tools {data!r} != reference {ref!r}")
    assert not problems, "\n".join(problems)


def _first_difference(a: bytes, b: bytes) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def test_koinon_serialization_matches_nostr_tools(js_ids: list[dict[str, Any]]) -> None:
    from koinon.core.event import compute_id, serialize_for_id

    problems = []
    for t, r in zip(TEMPLATES, js_ids, strict=True):
        want = bytes.fromhex(r["serialized_utf8_hex"])
        args = (t["pubkey"], t["created_at"], t["kind"], t["tags"], t["content"])
        got = serialize_for_id(*args)
        if not isinstance(got, bytes):
            problems.append(f"{t['desc']}: serialize_for_id gave {type(got).__name__}, not bytes")
            continue
        if got != want:
            at = _first_difference(got, want)
            lo, hi = max(0, at - 20), at + 20
            problems.append(
                f"{t['desc']}: first difference at byte {at}: "
                f"koinon {got[lo:hi]!r} vs nostr-tools {want[lo:hi]!r}"
            )
        got_id = compute_id(*args)
        if got_id != r["id"]:
            problems.append(f"{t['desc']}: compute_id {got_id!r} != nostr-tools {r['id']!r}")
    assert not problems, f"{len(problems)} mismatch(es):\n" + "\n".join(problems)


# --------------------------------------------------------------------------------------------
# Signatures


def _sign_templates() -> list[dict[str, Any]]:
    # Character coverage only (realistic structure), so a policy on odd shapes cannot interfere.
    out = []
    for name, ch in SPECIAL_CHARS:
        out.append(_tpl(name, f"note {ch} end", [["t", f"tag{ch}"], ["client", "nostr-tools"]]))
    out.append(_tpl("all C0 controls", ALL_C0, [["t", ALL_C0]]))
    out.append(_tpl("metadata", '{"name":"n\u2028","about":"\U0001f9d1\u200d\U0001f4bb"}', kind=0))
    out.append(_tpl("addressable", "body", [["d", "slug\ufeff"]], kind=30023))
    return out


SIGN_TEMPLATES = _sign_templates()
Signed = tuple[str, dict[str, Any], dict[str, Any]]  # (description, template, signed event)


@pytest.fixture(scope="module")
def js_signed(node: str) -> list[Signed]:
    out = []
    for sk in SECRET_KEYS:
        events = run_event_ids(node, [_wire(t) for t in SIGN_TEMPLATES], sign=sk)
        for t, ev in zip(SIGN_TEMPLATES, events, strict=True):
            assert "error" not in ev, f"nostr-tools could not sign {t['desc']}: {ev['error']}"
            out.append((f"{t['desc']} (key {sk[:6]}..)", t, ev))
    return out


def test_sign_output_shape(js_signed: list[Signed]) -> None:
    for desc, t, ev in js_signed:
        assert set(ev) == {"id", "pubkey", "created_at", "kind", "tags", "content", "sig"}, desc
        assert (ev["created_at"], ev["kind"], ev["tags"], ev["content"]) == (
            t["created_at"],
            t["kind"],
            t["tags"],
            t["content"],
        ), desc
        assert ev["id"] == hashlib.sha256(_reference_serialization(ev)).hexdigest(), desc


def test_koinon_verifies_nostr_tools_signatures(js_signed: list[Signed]) -> None:
    from koinon.core.event import compute_id, parse_event, verify_event
    from koinon.errors import Rejected

    problems = []
    for desc, _t, ev in js_signed:
        try:
            verify_event(parse_event(dict(ev)))
        except Rejected as exc:
            problems.append(f"{desc}: rejected: {exc}")
        got_id = compute_id(ev["pubkey"], ev["created_at"], ev["kind"], ev["tags"], ev["content"])
        if got_id != ev["id"]:
            problems.append(f"{desc}: compute_id {got_id} != {ev['id']}")
    assert not problems, "\n".join(problems)


def _tampered_variants(ev: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    def copy(**changes: Any) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(json.dumps(ev))
        out.update(changes)
        return out

    flipped_sig = ev["sig"][:-1] + ("0" if ev["sig"][-1] != "0" else "1")
    rehashed = copy(content=ev["content"] + "!")
    rehashed["id"] = hashlib.sha256(_reference_serialization(rehashed)).hexdigest()
    return [
        ("content altered, id and sig kept", copy(content=ev["content"] + "!")),
        ("tag altered, id and sig kept", copy(tags=[*ev["tags"], ["t", "extra"]])),
        ("created_at altered", copy(created_at=ev["created_at"] + 1)),
        ("content altered and id recomputed, sig kept", rehashed),
        ("signature bit flipped", copy(sig=flipped_sig)),
        ("other pubkey", copy(pubkey=PUBKEY if ev["pubkey"] != PUBKEY else "00" * 31 + "01")),
    ]


def test_koinon_rejects_tampered_nostr_tools_events(js_signed: list[Signed]) -> None:
    from koinon.core.event import parse_event, verify_event
    from koinon.errors import Rejected

    accepted = []
    for desc, _t, ev in js_signed[:: max(1, len(js_signed) // 12)]:
        for how, bad in _tampered_variants(ev):
            try:
                verify_event(parse_event(bad))
            except Rejected:
                continue
            accepted.append(f"{desc}: {how}")
    assert not accepted, "tampered events accepted:\n" + "\n".join(accepted)


# --------------------------------------------------------------------------------------------
# Client scenario against a running Koinon node

EXPECTED_STEPS = [
    "publish_note",
    "publish_note_b",
    "query_by_author",
    "query_by_kind",
    "query_by_tag",
    "query_by_id",
    "live_subscription",
    "duplicate",
    "connect_for_invalid",
    "tampered",
    "bad_signature",
    "tampered_stored",
    "replaceable_kind0",
    "replaceable_kind0_stale",
    "addressable_kind30023",
]


def _brief(step: dict[str, Any]) -> str:
    shown = {k: v for k, v in step.items() if k != "frames"}
    text = json.dumps(shown, ensure_ascii=False)
    frames = json.dumps(step.get("frames", [])[:12], ensure_ascii=False)
    return f"{text[:3000]}\n      frames: {frames[:3000]}"


def _ok_flag(step: dict[str, Any]) -> Any:
    frame = step.get("ok_frame")
    return frame[2] if isinstance(frame, list) and len(frame) > 2 else None


def _echoed_id(step: dict[str, Any]) -> Any:
    frame = step.get("ok_frame")
    return frame[1] if isinstance(frame, list) and len(frame) > 1 else None


def _message(step: dict[str, Any]) -> str:
    m = step.get("message")
    return m if isinstance(m, str) else ""


def _returned(step: dict[str, Any], key: str = "query") -> list[str]:
    ids = step.get(key, {}).get("returned_ids", [])
    return ids if isinstance(ids, list) else []


def _scenario_checks(steps: dict[str, dict[str, Any]]) -> list[tuple[str, bool, str]]:
    """(step, condition, what is wrong) for every expectation on the scenario's JSON."""
    note = steps["publish_note"].get("event", {})
    checks: list[tuple[str, bool, str]] = []

    def add(name: str, cond: bool, what: str) -> None:
        checks.append((name, cond, what))

    s = steps["publish_note"]
    add("publish_note", _ok_flag(s) is True, "kind-1 note not accepted with OK true")
    add("publish_note", s.get("nostr_tools") == "resolved", "nostr-tools publish() failed")
    add("publish_note", _echoed_id(s) == note.get("id"), "OK frame does not echo the event id")
    add("publish_note_b", _ok_flag(steps["publish_note_b"]) is True, "second note not accepted")

    for q in ("query_by_author", "query_by_kind", "query_by_tag", "query_by_id"):
        s = steps[q]
        add(q, s.get("eose") is True, "no EOSE")
        add(q, s.get("closed") is None, f"subscription CLOSED by relay: {s.get('closed')!r}")
        add(q, note.get("id") in s.get("returned_ids", []), "published note not returned")
        add(q, s.get("invalid_count") == 0, "relay sent events failing signature/filter checks")
    add("query_by_id", steps["query_by_id"].get("returned") == [note], "not exactly the event")
    add("query_by_tag", len(steps["query_by_tag"].get("returned_ids", [])) == 2, "want 2 notes")

    s = steps["live_subscription"]
    add("live_subscription", s.get("real_eose") is True, "no EOSE before the live event")
    add("live_subscription", s.get("arrived") is True, "live event did not arrive")

    # NIP-01: a duplicate is answered with a "duplicate:" message; the flag may be true or false.
    s = steps["duplicate"]
    add("duplicate", _message(s).startswith("duplicate:"), "message must start 'duplicate:'")

    for name in ("tampered", "bad_signature"):
        s = steps[name]
        add(name, _ok_flag(s) is False, "invalid event not rejected with OK false")
        add(name, _message(s).startswith("invalid:"), "message must start 'invalid:'")
        add(name, _echoed_id(s) == s.get("event", {}).get("id"), "OK does not echo the event id")

    s = steps["tampered_stored"]
    good = _message(s).startswith(("invalid:", "duplicate:"))
    add("tampered_stored", good, "message must start 'invalid:' or 'duplicate:'")

    s = steps["replaceable_kind0"]
    accepted = all(_ok_flag(p) is True for p in s.get("publishes", {}).values())
    add("replaceable_kind0", accepted, "kind 0 events not accepted")
    add("replaceable_kind0", _returned(s) == [s.get("expected_id")], "want only the newer kind 0")
    s = steps["replaceable_kind0_stale"]
    add("replaceable_kind0_stale", _returned(s) == [s.get("expected_id")], "stale kind 0 kept")

    s = steps["addressable_kind30023"]
    accepted = all(_ok_flag(p) is True for p in s.get("publishes", {}).values())
    add("addressable_kind30023", accepted, "kind 30023 events not accepted")
    add("addressable_kind30023", _returned(s) == [s.get("expected_id")], "want only the newest")
    add("addressable_kind30023", len(_returned(s, "query_all")) == 2, "want one per d tag")

    # Every step's own verdict (the script checks event equality, counts, ordering, ...).
    for name, step in steps.items():
        add(name, step.get("ok") is True, f"scenario problems: {step.get('problems')}")
    return checks


def test_client_scenario(node: str, relay_url: str) -> None:
    """nostr-tools, as a real client, against a running Koinon node."""
    args = [str(SCENARIO_JS), relay_url, "--timeout", "80"]
    proc = _run_node(node, args, None, timeout=100)
    res = _decode_json_output(proc, "client_scenario.mjs")
    stderr = proc.stderr[-4000:]
    assert res.get("exit_code") == proc.returncode, f"exit {proc.returncode}, JSON says {res!r}"
    assert res.get("error") is None, f"scenario aborted: {res['error']}\nstderr: {stderr!r}"
    steps: dict[str, dict[str, Any]] = res["steps"]
    missing = [name for name in EXPECTED_STEPS if name not in steps]
    assert not missing, f"steps missing from the scenario output: {missing}"

    failed: dict[str, list[str]] = {}
    for name, cond, what in _scenario_checks(steps):
        if not cond:
            failed.setdefault(name, []).append(what)
    if failed:
        report = [
            f"[{name}] " + "; ".join(whats) + f"\n      {_brief(steps[name])}"
            for name, whats in failed.items()
        ]
        head = f"{len(failed)} step(s) failed against {relay_url}:\n"
        pytest.fail(head + "\n".join(report), pytrace=False)
    assert res.get("ok") is True, f"scenario not ok: {res.get('failed')} {res.get('warnings')}"
    assert proc.returncode == 0
