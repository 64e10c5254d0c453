"""Start a relay as a child process on 127.0.0.1, wait until its port accepts, and stop it again."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_POLL_INTERVAL = 0.05


class ServerFailed(RuntimeError):
    """The relay process exited or never opened its port."""


@dataclass
class Server:
    """A running relay: its process, where it listens and where it logs."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    name: str,
    argv: Sequence[str],
    port: int,
    log_path: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Server:
    """Launch `argv` in its own process group and return once `port` accepts connections."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    server = Server(name, process, port, log_path)
    try:
        wait_for_port(server, timeout)
    except BaseException:
        stop_server(server)
        raise
    return server


def wait_for_port(server: Server, timeout: float) -> None:
    """Poll until the server's port accepts a TCP connection; fail early if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(
                f"{server.name} exited with code {server.process.returncode}:\n{log_tail(server)}"
            )
        if _port_accepts(server.port):
            return
        time.sleep(_POLL_INTERVAL)
    raise ServerFailed(f"{server.name} did not open port {server.port} in {timeout:.0f} s")


def stop_server(server: Server, grace: float = 10.0) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it lingers."""
    if server.process.poll() is None:
        _signal_group(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(server.process.pid, signal.SIGKILL)
            server.process.wait()
    # Workers (gunicorn's) may outlive their parent; the group id is still ours.
    _signal_group(server.process.pid, signal.SIGKILL)


def log_tail(server: Server, lines: int = 20) -> str:
    """The last lines the server wrote, for error messages."""
    try:
        text = server.log_path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)
