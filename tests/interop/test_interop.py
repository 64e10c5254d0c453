"""Interop with an independent Nostr implementation: nostr-tools (npm) run by Node.js.

* Event serialization and ids: Koinon's ``serialize_for_id`` / ``compute_id`` must agree byte for
  byte with nostr-tools' ``serializeEvent`` / ``getEventHash`` on every awkward character.
* Signatures: events signed by nostr-tools' ``finalizeEvent`` must verify in Koinon, and tampered
  copies must be rejected.
* Client scenario: nostr-tools drives a running Koinon node as a real client would (publish,
  query, live subscription, duplicates, invalid events, replaceable and addressable events).

Needs ``node`` (>= 18) on PATH and ``npm ci --prefix tests/interop``. Without them these tests are
skipped, except under CI (environment variable ``CI`` set), where they fail instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
EVENT_IDS_JS = HERE / "event_ids.mjs"
SCENARIO_JS = HERE / "client_scenario.mjs"

PUBKEY = "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
CREATED_AT = 1_700_000_000

# Secret keys for --sign: the BIP-340 test-vector key 3, one near the group order, one random-ish.
SECRET_KEYS = [
    "0000000000000000000000000000000000000000000000000000000000000003",
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
    "b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef",
]


# --------------------------------------------------------------------------------------------
# Environment


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"interop prerequisites missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node() -> str:
    """Path of the node binary, after checking that the harness can run."""
    path = shutil.which("node")
    if path is None:
        _unavailable("`node` is not on PATH (Node.js >= 18 is needed for the nostr-tools interop tests)")
    assert path is not None
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        _unavailable(f"`node --version` failed: {exc}")
        raise  # unreachable
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < 18:
        _unavailable(f"Node.js {version} is too old for nostr-tools (need >= 18)")
    for pkg in ("nostr-tools", "ws"):
        if not (NODE_MODULES / pkg / "package.json").is_file():
            _unavailable(
                f"{NODE_MODULES / pkg} is missing; run `npm ci --prefix tests/interop` first"
            )
    return path


def _run_node(node: str, args: list[str], stdin: bytes | None, timeout: float) -> subprocess.CompletedProcess[bytes]:
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


def run_event_ids(node: str, templates: list[dict[str, Any]], sign: str | None = None) -> list[dict[str, Any]]:
    args = [str(EVENT_IDS_JS)]
    if sign is not None:
        args += ["--sign", sign]
    # ensure_ascii: every character crosses the pipe as a \u escape, so the transport cannot alter it.
    stdin = json.dumps(templates, ensure_ascii=True).encode("ascii")
    proc = _run_node(node, args, stdin, timeout=120)
    out = _decode_json_output(proc, "event_ids.mjs")
    assert proc.returncode == 0, f"event_ids.mjs exited {proc.returncode}: {out!r}\n{proc.stderr[-4000:]!r}"
    assert isinstance(out, list) and len(out) == len(templates), f"unexpected output: {out!r}"[:2000]
    return out


# --------------------------------------------------------------------------------------------
# Templates


def _tpl(desc: str, content: str = "", tags: list[list[str]] | None = None, *, kind: int = 1,
         created_at: int = CREATED_AT, pubkey: str = PUBKEY) -> dict[str, Any]:
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
    out.append(_tpl("every special string together", everything, [["t", everything], [everything, everything]]))
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
    out.append(_tpl("kind 30023 with d tag", "# title\n\nbody", [["d", "slug"], ["title", "T\u2028"]], kind=30023))
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
    errors = [(t["desc"], r["error"]) for t, r in zip(TEMPLATES, out) if "error" in r]
    assert not errors, f"nostr-tools refused templates: {errors}"
    return out


def test_harness_transport_and_reference(js_ids: list[dict[str, Any]]) -> None:
    """Sanity of the harness itself: nostr-tools' output round-trips, hashes what it says, and
    equals the plain JSON reference (so nothing was altered crossing the pipes)."""
    problems = []
    for t, r in zip(TEMPLATES, js_ids):
        data = r["serialized"].encode("utf-8")
        if data != bytes.fromhex(r["serialized_utf8_hex"]):
            problems.append(f"{t['desc']}: serialized string and hashed bytes differ")
        if hashlib.sha256(data).hexdigest() != r["id"]:
            problems.append(f"{t['desc']}: id is not sha256 of the serialization")
        if json.loads(r["serialized"]) != [0, t["pubkey"], t["created_at"], t["kind"], t["tags"], t["content"]]:
            problems.append(f"{t['desc']}: serialization does not parse back to the template")
        if data != _reference_serialization(t):
            problems.append(f"{t['desc']}: nostr-tools {data!r} != reference {_reference_serialization(t)!r}")
    assert not problems, "\n".join(problems)


def test_koinon_serialization_matches_nostr_tools(js_ids: list[dict[str, Any]]) -> None:
    from koinon.core.event import compute_id, serialize_for_id

    problems = []
    for t, r in zip(TEMPLATES, js_ids):
        want = bytes.fromhex(r["serialized_utf8_hex"])
        args = (t["pubkey"], t["created_at"], t["kind"], t["tags"], t["content"])
        got = serialize_for_id(*args)
        if not isinstance(got, bytes):
            problems.append(f"{t['desc']}: serialize_for_id returned {type(got).__name__}, not bytes")
            continue
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            problems.append(
                f"{t['desc']}: first difference at byte {at}: "
                f"koinon {got[max(0, at - 20):at + 20]!r} vs nostr-tools {want[max(0, at - 20):at + 20]!r}"
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


@pytest.fixture(scope="module")
def js_signed(node: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    out = []
    for sk in SECRET_KEYS:
        events = run_event_ids(node, [_wire(t) for t in SIGN_TEMPLATES], sign=sk)
        for t, ev in zip(SIGN_TEMPLATES, events):
            assert "error" not in ev, f"nostr-tools could not sign {t['desc']}: {ev['error']}"
            out.append((f"{t['desc']} (key {sk[:6]}..)", t, ev))
    return out


def test_sign_output_shape(js_signed: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
    for desc, t, ev in js_signed:
        assert set(ev) == {"id", "pubkey", "created_at", "kind", "tags", "content", "sig"}, desc
        assert (ev["created_at"], ev["kind"], ev["tags"], ev["content"]) == (
            t["created_at"], t["kind"], t["tags"], t["content"]), desc
        assert ev["id"] == hashlib.sha256(_reference_serialization(ev)).hexdigest(), desc


def test_koinon_verifies_nostr_tools_signatures(js_signed: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
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
        out = json.loads(json.dumps(ev))
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


def test_koinon_rejects_tampered_nostr_tools_events(
    js_signed: list[tuple[str, dict[str, Any], dict[str, Any]]],
) -> None:
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


def test_client_scenario(node: str, relay_url: str) -> None:
    proc = _run_node(node, [str(SCENARIO_JS), relay_url, "--timeout", "100"], None, timeout=130)
    res = _decode_json_output(proc, "client_scenario.mjs")
    assert res.get("exit_code") == proc.returncode, f"exit code mismatch: {proc.returncode} vs {res.get('exit_code')}"
    assert res.get("error") is None, f"scenario aborted: {res['error']}\nstderr: {proc.stderr[-4000:]!r}\nsteps: {list(res.get('steps', {}))}"
    steps: dict[str, dict[str, Any]] = res["steps"]

    problems: list[str] = []

    def check(name: str, cond: bool, what: str) -> None:
        if not cond:
            problems.append(f"[{name}] {what}\n      {_brief(steps.get(name, {}))}")

    missing = [s for s in EXPECTED_STEPS if s not in steps]
    assert not missing, f"steps missing from the scenario output: {missing}"

    def ok_flag(step: dict[str, Any]) -> Any:
        frame = step.get("ok_frame")
        return frame[2] if isinstance(frame, list) and len(frame) > 2 else None

    def echoed_id(step: dict[str, Any]) -> Any:
        frame = step.get("ok_frame")
        return frame[1] if isinstance(frame, list) and len(frame) > 1 else None

    def message(step: dict[str, Any]) -> str:
        m = step.get("message")
        return m if isinstance(m, str) else ""

    note = steps["publish_note"].get("event", {})

    s = steps["publish_note"]
    check("publish_note", ok_flag(s) is True, "kind-1 note not accepted with OK true")
    check("publish_note", s.get("nostr_tools") == "resolved", "nostr-tools publish() did not resolve")
    check("publish_note", echoed_id(s) == note.get("id"), "OK frame does not echo the event id")
    check("publish_note_b", ok_flag(steps["publish_note_b"]) is True, "second author's note not accepted")

    for q in ("query_by_author", "query_by_kind", "query_by_tag", "query_by_id"):
        s = steps[q]
        check(q, s.get("eose") is True, "no EOSE")
        check(q, s.get("closed") is None, f"subscription CLOSED by relay: {s.get('closed')!r}")
        check(q, note.get("id") in s.get("returned_ids", []), "published note not returned")
        check(q, s.get("invalid_count") == 0, "relay sent events failing signature or filter checks")
        check(q, s.get("ok") is True, f"problems: {s.get('problems')}")
    check("query_by_id", steps["query_by_id"].get("returned") == [note], "query by id did not return exactly the published event")
    check("query_by_tag", len(steps["query_by_tag"].get("returned_ids", [])) == 2, "tag query should return both authors' notes")

    s = steps["live_subscription"]
    check("live_subscription", s.get("real_eose") is True, "no EOSE before the live event")
    check("live_subscription", s.get("arrived") is True, "live event did not arrive")
    check("live_subscription", s.get("ok") is True, f"problems: {s.get('problems')}")

    s = steps["duplicate"]
    # NIP-01: duplicates are answered with a "duplicate:" message; the flag may be true.
    check("duplicate", message(s).startswith("duplicate:"), f"message {s.get('message')!r} does not start with 'duplicate:'")
    check("duplicate", s.get("ok") is True, f"problems: {s.get('problems')}")

    for name in ("tampered", "bad_signature"):
        s = steps[name]
        check(name, ok_flag(s) is False, "invalid event not rejected with OK false")
        check(name, message(s).startswith("invalid:"), f"message {s.get('message')!r} does not start with 'invalid:'")
        check(name, echoed_id(s) == s.get("event", {}).get("id"), "OK frame does not echo the event id")
        check(name, s.get("ok") is True, f"problems: {s.get('problems')}")

    s = steps["tampered_stored"]
    check("tampered_stored", message(s).startswith(("invalid:", "duplicate:")), f"unexpected message {s.get('message')!r}")
    check("tampered_stored", s.get("ok") is True, f"problems: {s.get('problems')}")

    s = steps["replaceable_kind0"]
    check("replaceable_kind0", all(ok_flag(p) is True for p in s.get("publishes", {}).values()), "metadata not accepted")
    check("replaceable_kind0", s.get("query", {}).get("returned_ids") == [s.get("expected_id")], "query must return only the newer kind 0")
    check("replaceable_kind0", s.get("ok") is True, f"problems: {s.get('problems')}")
    s = steps["replaceable_kind0_stale"]
    check("replaceable_kind0_stale", s.get("query", {}).get("returned_ids") == [s.get("expected_id")], "an older kind 0 published later must not replace the newer")

    s = steps["addressable_kind30023"]
    check("addressable_kind30023", all(ok_flag(p) is True for p in s.get("publishes", {}).values()), "articles not accepted")
    check("addressable_kind30023", s.get("query", {}).get("returned_ids") == [s.get("expected_id")], "query by d tag must return only the newest")
    check("addressable_kind30023", len(s.get("query_all", {}).get("returned_ids", [])) == 2, "one article per d tag expected")
    check("addressable_kind30023", s.get("ok") is True, f"problems: {s.get('problems')}")

    # Anything the scenario itself flagged, in case a check above missed it.
    for name in res.get("failed", []):
        if not any(p.startswith(f"[{name}]") for p in problems):
            check(name, False, "step failed in the scenario")
    if problems:
        pytest.fail(f"{len(problems)} problem(s) against {relay_url}:\n" + "\n".join(problems), pytrace=False)
    assert res.get("ok") is True and proc.returncode == 0, f"scenario not ok: {res.get('failed')} {res.get('warnings')}"
