"""People with their own homes driving `koinon dm` and `koinon group` in process, on the event loop
of an in-process node: the shared set-up of the prekey tests (keys sealed with a cheap scrypt
cost, so that the many commands stay fast)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from koinon.cli import dmstore, keystore
from koinon.cli.main import build_parser
from koinon.core import ncryptsec
from koinon.core.keys import SecretKey
from koinon.node import Node
from tests.helpers import make_key

PASSPHRASE = "dm people test passphrase"


@dataclass(eq=False)
class Person:
    """One user with their own home, driving `koinon` in process on the node's loop."""

    home: Path
    key: SecretKey
    relay: str
    capture: Callable[[], tuple[str, str]]

    async def run(self, *argv: str) -> str:
        """The output of one command that must succeed without printing a warning."""
        args = build_parser().parse_args([*argv, "--home", str(self.home)])
        args.relay = self.relay
        self.capture()
        result = args.run(args)
        if asyncio.iscoroutine(result):
            result = await result
        out, err = self.capture()
        assert result == 0 and err == "", err
        return out

    async def texts(self, *argv: str) -> list[str]:
        """What follows the last ': ' on each line `run` prints (a message's text)."""
        return [line.rsplit(": ", 1)[-1] for line in (await self.run(*argv)).splitlines()]

    def state(self) -> dmstore.State:
        return dmstore.load(self.home, PASSPHRASE, self.key.public_key)

    def save(self, state: dmstore.State) -> None:
        dmstore.store(self.home, PASSPHRASE, state)


def make_people(
    node: Node,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    first_key: int,
) -> list[Person]:
    """Alice, Bob and Carol, with keys made from `first_key` on."""
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, PASSPHRASE)

    def capture() -> tuple[str, str]:
        captured = capsys.readouterr()
        return captured.out, captured.err

    made = []
    for index, name in enumerate(("alice", "bob", "carol")):
        home = tmp_path / name
        home.mkdir()
        key = SecretKey(make_key(first_key + index))
        sealed = ncryptsec.encrypt(key.raw, PASSPHRASE, os.urandom, log_n=4)
        keystore.key_path(home).write_text(sealed + "\n")
        made.append(Person(home, key, node.ws_url, capture))
    return made
