"""People driving the real `koinon` executable against a real node, for the franking tests: each
device has its own KOINON_HOME; and ways to forge a report as a dishonest reporter would.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from koinon.core import ncryptsec
from koinon.core.event import sign_event
from koinon.core.keys import SecretKey, npub
from koinon.messaging import franking
from tests.helpers import ROOT

PASSPHRASE = "franking test passphrase"
CLI = [sys.executable, "-m", "koinon.cli.main"]
LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (npub1\w+)(?: -> (npub1\w+))?: (.*)")


@dataclass(frozen=True)
class Device:
    """One device of one person: its own KOINON_HOME."""

    name: str
    home: Path
    relay: str
    npub: str = ""
    hex: str = ""

    def run(
        self, *args: str, stdin: str = "", passphrase: str = PASSPHRASE
    ) -> subprocess.CompletedProcess[str]:
        """`koinon ARGS…` with this device's home, relay and (unless told) passphrase."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KOINON_")}
        env.update(
            KOINON_PASSPHRASE=passphrase, KOINON_HOME=str(self.home), KOINON_RELAY=self.relay
        )
        return subprocess.run(
            [*CLI, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=90,
            check=False,
        )

    def ok(self, *args: str) -> str:
        """The output of a command that must succeed without a traceback."""
        result = self.run(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout

    def read(self) -> list[tuple[str, str | None, str]]:
        """(sender npub, recipient npub for sent copies, text) of each new message."""
        out = []
        for line in self.ok("dm", "read").splitlines():
            match = LINE.fullmatch(line)
            assert match, line
            out.append((match.group(1), match.group(2), match.group(3)))
        return out

    @property
    def key(self) -> SecretKey:
        sealed = (self.home / "key.ncryptsec").read_text().strip()
        return SecretKey(ncryptsec.decrypt(sealed, PASSPHRASE))


def with_key(name: str, root: Path, relay: str) -> Device:
    """A device with a new key, before `dm init`."""
    device = Device(name, root / name, relay)
    device.ok("key", "new")
    return device


def initialised(device: Device) -> Device:
    """The device after `dm init`, with its npub and hex key filled in."""
    device.ok("dm", "init")
    public = device.key.public_key
    return dataclasses.replace(device, npub=npub(public), hex=public)


def resign(report: dict[str, Any], signer: SecretKey, **changes: Any) -> dict[str, Any]:
    """The report with content fields (or its `p` tag) changed, signed again by `signer`."""
    content = json.loads(report["content"])
    tags = report["tags"]
    if "p" in changes:
        tags = [["p", changes.pop("p"), "spam"]]
    content.update(changes)
    event = sign_event(
        signer.raw,
        kind=report["kind"],
        content=json.dumps(content),
        tags=tags,
        created_at=report["created_at"],
        aux_rand=bytes(32),
    )
    return event.to_dict()


def altered_stamp(report: dict[str, Any], change: Callable[[Any], Any]) -> str:
    """The report's stamp with `change` applied, base64 as a report carries it."""
    stamp = franking.FrankingStamp.decode(base64.b64decode(json.loads(report["content"])["stamp"]))
    return base64.b64encode(change(stamp).encode()).decode()


@dataclass(frozen=True)
class Reported:
    """A report as `koinon report create` wrote it: the file and its event."""

    path: Path
    report: dict[str, Any]


def create_report(reporter: Device, message_id: str, path: Path) -> Reported:
    """`koinon report create` of one message, as spam, into a private file at `path`."""
    out = reporter.ok("report", "create", message_id[:10], "--type", "spam", "-o", str(path))
    assert str(path) in out and os.stat(path).st_mode & 0o077 == 0
    return Reported(path, json.loads(path.read_bytes()))


Forgeries = dict[str, tuple[dict[str, Any], str]]


def forged_reports(report: dict[str, Any], reporter: Device, other: Device) -> Forgeries:
    """What a dishonest reporter (or `other`, not the recipient) could make of an honest report,
    each with the problem `koinon report verify` must name."""
    content = json.loads(report["content"])
    opening = franking.FrankedPlaintext.decode(base64.b64decode(content["franked"]))
    altered = dataclasses.replace(opening, message=opening.message + b" (edited)")
    reporter_key, other_key = reporter.key, other.key
    return {
        "altered-message": (
            resign(report, reporter_key, franked=base64.b64encode(altered.encode()).decode()),
            "commitment-does-not-open",
        ),
        "altered-accused-sender": (
            resign(report, reporter_key, p=other.hex),
            "sender-not-stamped",
        ),
        "altered-stamped-sender": (
            resign(
                report,
                reporter_key,
                p=other.hex,
                stamp=altered_stamp(report, lambda s: dataclasses.replace(s, sender=other.hex)),
            ),
            "stamp-not-nodes",
        ),
        "wrong-reporter": (resign(report, other_key), "reporter-not-recipient"),
        "forged-tag": (
            resign(
                report,
                reporter_key,
                stamp=altered_stamp(report, lambda s: dataclasses.replace(s, tag=bytes(32))),
            ),
            "stamp-not-nodes",
        ),
    }


def assert_rejected(moderator: Device, forgeries: Forgeries, folder: Path) -> None:
    """`koinon report verify` refuses each forgery with exit 1 and one line naming its problem."""
    for name, (forged, problem) in forgeries.items():
        path = folder / f"{name}.json"
        path.write_bytes(json.dumps(forged).encode())
        result = moderator.run("report", "verify", str(path))
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and problem in lines[0], (name, result.stderr)
        assert lines[0].startswith("koinon: report rejected: ") and "accepted" not in result.stdout


def now() -> int:
    """The wall clock, as the CLI reads it."""
    return int(time.time())
