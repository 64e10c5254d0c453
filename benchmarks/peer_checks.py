"""Do the ingest benchmark's relays verify event ids and BIP-340 signatures? And what does one cost?

Starts each target the way `ingest.py` does, sends it a valid event, one with a flipped signature
bit and one edited after signing (see harness/checks.py), prints what it answered and whether it
stored each, and stops it. Then times one BIP-340 verification in coincurve and names the
libsecp256k1 inside the nostr-sdk wheel. `ingest.py` runs the same checks before its timing.

Run from the repository root:
    .venv/bin/python benchmarks/peer_checks.py [--only koinon,localrelay,nostr-relay]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness.checks import check_relay, describe, secp256k1_in_binary, verification_floor
from harness.servers import ServerFailed, stop_server
from harness.targets import (
    ALL_TARGETS,
    BENCH_VENV,
    DEFAULT_TARGETS,
    KOINON_NAME,
    ensure_bench_venv,
    targets,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Check every selected target, then print the per-event floor; non-zero if one fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(DEFAULT_TARGETS), help=", ".join(ALL_TARGETS))
    parser.add_argument("--json", type=Path, help="also write the findings to this file")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    if any(name != KOINON_NAME for name in only):
        ensure_bench_venv()
    known = targets()
    findings: dict[str, object] = {}
    failed = False
    for name in only:
        target = known[name]
        if target.unavailable:
            print(f"{name}: skipped ({target.unavailable})")
            continue
        with tempfile.TemporaryDirectory(prefix=f"checks-{name}-") as scratch:
            work = Path(scratch)
            try:
                server = target.launch(work, work / "server.log")
            except (ServerFailed, OSError) as exc:
                print(f"{name}: failed to start: {exc}")
                failed = True
                continue
            try:
                report = asyncio.run(check_relay(server.url))
            finally:
                stop_server(server)
        findings[name] = report
        verdict = "verifies" if report["verifies_ids_and_signatures"] else "DOES NOT VERIFY"
        print(f"{name}: {verdict} ids and signatures -- {describe(report)}")
        failed = failed or not report["verifies_ids_and_signatures"]
    floor = verification_floor()
    wheel = next(BENCH_VENV.glob("lib/python*/site-packages/nostr_sdk/libnostr_sdk_ffi.so"), None)
    floor["localrelay_secp256k1"] = secp256k1_in_binary(wheel) if wheel else None
    findings["per_event_floor"] = floor
    print(
        f"one BIP-340 verification: {floor['bip340_verify_us']} µs, one event id: "
        f"{floor['event_id_sha256_us']} µs ({floor['library']}, best of 5 x "
        f"{floor['samples']}); nostr-sdk wheel: {floor['localrelay_secp256k1']}"
    )
    if args.json:
        args.json.write_text(json.dumps(findings, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
