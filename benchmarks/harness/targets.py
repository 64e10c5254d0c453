"""The relays under test: how each is installed, configured and launched on 127.0.0.1.

The peers live in their own virtualenv (`.venv-bench`) so their dependencies never touch the
project's. `benchmarks/requirements-bench.lock` pins that environment; it is written by `pip freeze`
the first time the environment is built from the two top-level pins.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.servers import Server, free_port, start_server

REPO = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO / "benchmarks"
BENCH_VENV = REPO / ".venv-bench"
BENCH_PYTHON = BENCH_VENV / "bin" / "python"
LOCK_FILE = BENCH_DIR / "requirements-bench.lock"
PEER_PINS = ("nostr-sdk==0.45.1", "nostr-relay==1.14")
KOINON = REPO / ".venv" / "bin" / "koinon"

KOINON_NAME = "koinon"
LOCALRELAY_NAME = "localrelay"
LOCALRELAY_LMDB_NAME = "localrelay-lmdb"
NOSTR_RELAY_NAME = "nostr-relay"
DEFAULT_TARGETS = (KOINON_NAME, LOCALRELAY_NAME, NOSTR_RELAY_NAME)
ALL_TARGETS = (*DEFAULT_TARGETS, LOCALRELAY_LMDB_NAME)
# nostr-relay-builder's default database: MemoryDatabase { events: true, max_events: Some(75_000) }
LOCALRELAY_MEMORY_CAPACITY = 75_000


@dataclass(frozen=True)
class Target:
    """One relay implementation and how to bring it up in a scratch directory."""

    name: str
    storage: str
    launch: Callable[[Path, Path], Server]
    unavailable: str | None = None
    capacity: int | None = None  # events the store keeps at most, if bounded


def ensure_bench_venv() -> None:
    """Create `.venv-bench` with the pinned peers unless it already has them."""
    if BENCH_PYTHON.exists() and _peers_installed():
        return
    print(f"setting up {BENCH_VENV.name} with {', '.join(PEER_PINS)} ...", flush=True)
    subprocess.run(["python3.11", "-m", "venv", str(BENCH_VENV)], check=True)
    pip = [str(BENCH_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if LOCK_FILE.exists():
        subprocess.run([*pip, "-r", str(LOCK_FILE)], check=True)
    else:
        subprocess.run([*pip, *PEER_PINS], check=True)
        _write_lock()
    if not _peers_installed():
        raise RuntimeError(f"{BENCH_VENV} does not provide {PEER_PINS} after installing")


def targets(koinon: Path = KOINON, koinon_args: Sequence[str] = ()) -> dict[str, Target]:
    """Every known target by name; Koinon is marked unavailable until its CLI exists."""
    missing_koinon = None if koinon.exists() else f"{koinon} not found"
    return {
        KOINON_NAME: Target(
            KOINON_NAME,
            "SQLite (Koinon store)",
            lambda work, log: _launch_koinon(koinon, koinon_args, work, log),
            missing_koinon,
        ),
        LOCALRELAY_NAME: Target(
            LOCALRELAY_NAME,
            f"in memory, keeps the newest {LOCALRELAY_MEMORY_CAPACITY:,} events",
            lambda work, log: _launch_localrelay(work, log, "memory"),
            capacity=LOCALRELAY_MEMORY_CAPACITY,
        ),
        LOCALRELAY_LMDB_NAME: Target(
            LOCALRELAY_LMDB_NAME,
            "LMDB on disk, reached through Python callbacks",
            lambda work, log: _launch_localrelay(work, log, "lmdb"),
        ),
        NOSTR_RELAY_NAME: Target(
            NOSTR_RELAY_NAME, "SQLite via SQLAlchemy/aiosqlite (WAL)", _launch_nostr_relay
        ),
    }


def _launch_koinon(koinon: Path, extra: Sequence[str], work: Path, log: Path) -> Server:
    port = free_port()
    data = work / "data"
    data.mkdir()
    argv = [str(koinon), "up", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)]
    # Like the peers, Koinon runs without its per-connection throttle; anything else stays default.
    argv += ["--rate-limit", "0", *extra]
    return start_server(KOINON_NAME, argv, port, log, cwd=work)


def _launch_localrelay(work: Path, log: Path, database: str) -> Server:
    port = free_port()
    script = BENCH_DIR / "localrelay_server.py"
    argv = [str(BENCH_PYTHON), str(script), "--port", str(port), "--db", database]
    argv += ["--data-dir", str(work / "lmdb")]
    name = LOCALRELAY_LMDB_NAME if database == "lmdb" else LOCALRELAY_NAME
    return start_server(name, argv, port, log, cwd=work)


def _launch_nostr_relay(work: Path, log: Path) -> Server:
    port = free_port()
    config = work / "nostr-relay.yaml"
    config.write_text(nostr_relay_config(work / "nostr.sqlite3", port))
    argv = [str(BENCH_VENV / "bin" / "nostr-relay"), "-c", str(config), "serve"]
    return start_server(NOSTR_RELAY_NAME, argv, port, log, cwd=work)


def nostr_relay_config(database: Path, port: int) -> str:
    """nostr-relay's YAML: SQLite in `database`, one gunicorn worker on 127.0.0.1, quiet logs."""
    return f"""\
DEBUG: false
relay_name: koinon benchmark peer
storage:
  sqlalchemy.url: sqlite+aiosqlite:///{database}
  num_concurrent_reqs: 10
  num_concurrent_adds: 2
  validators:
    - nostr_relay.validators.is_not_too_large
    - nostr_relay.validators.is_signed
    - nostr_relay.validators.is_recent
    - nostr_relay.validators.is_not_hellthread
verification:
  nip05_verification: disabled
gunicorn:
  bind: 127.0.0.1:{port}
  workers: 1
  loglevel: warning
  reload: false
authentication:
  enabled: false
message_timeout: 1800
subscription_limit: 32
max_limit: 6000
logging:
  version: 1
  root:
    level: WARNING
"""


def _peers_installed() -> bool:
    probe = (
        "import importlib.metadata as m, sys; "
        f"pins = {list(PEER_PINS)!r}; "
        "sys.exit(any(m.version(p.split('==')[0]) != p.split('==')[1] for p in pins))"
    )
    result = subprocess.run([str(BENCH_PYTHON), "-c", probe], capture_output=True)
    return result.returncode == 0


def _write_lock() -> None:
    frozen = subprocess.run(
        [str(BENCH_PYTHON), "-m", "pip", "freeze", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    LOCK_FILE.write_text(frozen)
    print(f"wrote {LOCK_FILE.relative_to(REPO)}", file=sys.stderr)
