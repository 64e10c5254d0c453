"""Test helper: an anvil EVM node on 127.0.0.1 for the JSON-RPC path (`with run_anvil() as url`).

anvil comes from the npm package `@foundry-rs/anvil` pinned in `tools/anvil/` (install it with
`npm ci --prefix tools/anvil`); its binary ships in the platform package
`@foundry-rs/anvil-<os>-<arch>`. `KOINON_ANVIL` may name another binary.
"""

from __future__ import annotations

import os
import platform
import re
import selectors
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from koinon.chain.errors import ChainError

ANVIL_DIR = Path(__file__).resolve().parents[2] / "tools" / "anvil"
_LISTENING = re.compile(rb"Listening on (\S+):(\d+)")
_PLATFORMS = {"linux": "linux", "darwin": "darwin", "win32": "win32"}
_JSON = {"Content-Type": "application/json"}
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def find_anvil(anvil_dir: Path = ANVIL_DIR) -> Path | None:
    """The anvil binary: `$KOINON_ANVIL`, else the one npm put in `anvil_dir`, else on PATH."""
    override = os.environ.get("KOINON_ANVIL")
    if override:
        return Path(override) if Path(override).is_file() else None
    system = _PLATFORMS.get(sys.platform)
    arch = _ARCHES.get(platform.machine().lower())
    if system and arch:
        name = "anvil.exe" if system == "win32" else "anvil"
        binary = (
            anvil_dir / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / name
        )
        if binary.is_file():
            return binary
    found = shutil.which("anvil")
    return Path(found) if found else None


def _read_address(fd: int, deadline: float) -> str:
    """Read anvil's output until it says where it listens; returns "host:port"."""
    output = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(remaining):
                break
            chunk = os.read(fd, 65536)  # unbuffered: a buffered reader could hide the line
            if not chunk:
                break
            output += chunk
            match = _LISTENING.search(output)
            if match:
                return f"{match.group(1).decode()}:{match.group(2).decode()}"
    raise ChainError(f"anvil did not start listening:\n{output.decode(errors='replace')}")


def _drain(fd: int) -> None:
    """Keep reading (and dropping) anvil's log so that it never blocks on a full pipe."""
    while os.read(fd, 65536):
        pass


def _chain_id(url: str, deadline: float) -> int:
    """Ask `eth_chainId` until the node answers or the deadline passes."""
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}'
    with requests.Session() as session:
        while True:
            try:
                reply = session.post(url, data=body, headers=_JSON, timeout=2.0)
                return int(reply.json()["result"], 16)
            except (requests.RequestException, ValueError, KeyError):
                # Rare: anvil binds before it prints its address, so the first try answers.
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)


@contextmanager
def run_anvil(
    binary: Path | None = None, *, startup_timeout: float = 30.0, args: tuple[str, ...] = ()
) -> Iterator[str]:
    """Start anvil on a free port of 127.0.0.1, yield its URL once it answers, then stop it."""
    binary = binary or find_anvil()
    if binary is None:
        raise FileNotFoundError("anvil not found: run `npm ci --prefix tools/anvil`")
    command = [str(binary), "--host", "127.0.0.1", "--port", "0", *args]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    drainer: threading.Thread | None = None
    try:
        deadline = time.monotonic() + startup_timeout
        fd = process.stdout.fileno()
        url = f"http://{_read_address(fd, deadline)}"
        drainer = threading.Thread(target=_drain, args=(fd,), daemon=True)
        drainer.start()
        _chain_id(url, deadline)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if drainer is not None:
            drainer.join(timeout=10)
        process.stdout.close()
