"""The `koinon` command, run as a real subprocess: help for every command, the key store, the
client commands against the session's node, and one-line errors. Also: the README lists every
command.

Independent invocations run concurrently (each one pays for an interpreter start and, for keys,
an scrypt derivation).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from koinon.cli.main import COMMAND_MODULES, build_parser, command_modules, main
from koinon.core.keys import SecretKey, npub
from tests.helpers import ROOT, connect, make_event, make_key, pubkey_of

PASSPHRASE = "correct horse battery staple"
ME, FRIEND = make_key(301), make_key(302)


@dataclass(frozen=True)
class Call:
    """One invocation of `koinon`."""

    args: tuple[str, ...]
    home: Path | None = None
    passphrase: str = PASSPHRASE
    stdin: str | None = None


def run_cli(call: Call, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOINON_")}
    env["KOINON_PASSPHRASE"] = call.passphrase
    # Never the real ~/.koinon: commands without a home get one that does not exist.
    env["KOINON_HOME"] = str(call.home or Path(tempfile.gettempdir()) / "koinon-test-no-home")
    return subprocess.run(
        [sys.executable, "-m", "koinon.cli.main", *call.args],
        input=call.stdin if call.stdin is not None else "",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def run_many(calls: Sequence[Call]) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(run_cli, calls))


def cli(*args: str, home: Path | None = None, stdin: str | None = None) -> str:
    """Run a command that must succeed; its stdout."""
    result = run_cli(Call(args, home, stdin=stdin))
    assert result.returncode == 0, f"koinon {' '.join(args)}: {result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    lines = result.stderr.splitlines()
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith("koinon: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def command_paths(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand of the argparse tree, the root included."""
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from command_paths(sub, (*path, name))


COMMANDS = list(command_paths(build_parser()))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- help and docs --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(("koinon", *p)))
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    """`--help` through `main`, which builds only the tree of the command's own module."""
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        pytest.raises(SystemExit) as exit_,
    ):
        main([*path, "--help"])
    assert exit_.value.code == 0, err.getvalue()
    assert out.getvalue().startswith("usage: koinon"), out.getvalue()
    assert err.getvalue() == ""


def test_help_from_the_executable() -> None:
    for result in run_many([Call(("--help",)), Call(("dm", "send", "--help"))]):
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("usage: koinon"), result.stdout
        assert result.stderr == ""


CHAIN_STACK = {"web3", "eth_account", "eth_tester", "eth_keyfile", "py_ecc", "eth"}
LOADED_MODULES = """
import json, sys
from koinon.cli.main import build_parser
build_parser()
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_the_command_line_does_not_load_the_chain_stack() -> None:
    """Loading it costs seconds of CPU; commands that do not anchor must not pay for it."""
    probe = [sys.executable, "-c", LOADED_MODULES]
    result = subprocess.run(probe, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    loaded = set(orjson.loads(result.stdout))
    assert CHAIN_STACK.isdisjoint(loaded), sorted(CHAIN_STACK & loaded)


def test_the_tree_has_the_documented_commands() -> None:
    top = {p[0] for p in COMMANDS if len(p) == 1}
    assert {"up", "key", "post", "reply", "react", "follow", "feed", "req"} <= top
    assert {("key", "new"), ("key", "show"), ("key", "import")} <= set(COMMANDS)


def readme_commands() -> set[tuple[str, ...]]:
    """The command words of every `koinon …` row in the README's command table."""
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\|\s*`koinon ([^`]*)`", readme, flags=re.MULTILINE)
    return {tuple(w for w in row.split() if re.fullmatch(r"[a-z][a-z-]*", w)) for row in rows}


# Commands added without a README row yet (a docs gap, reported); strict, so documenting one
# makes its test XPASS and fail until it is taken off this list.
UNDOCUMENTED: set[tuple[str, ...]] = set()


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            path,
            marks=[pytest.mark.xfail(strict=True, reason="README has no row for it yet")]
            if path in UNDOCUMENTED
            else [],
        )
        for path in COMMANDS[1:]
    ],
    ids=lambda p: " ".join(p),
)
def test_readme_command_table_lists_every_command(path: tuple[str, ...]) -> None:
    documented = readme_commands()
    assert any(doc[: len(path)] == path for doc in documented), (
        f"README's command table has no row for `koinon {' '.join(path)}`"
    )


# -- keys -----------------------------------------------------------------------------------------


def shown(stdout: str) -> dict[str, str]:
    """`name: value` lines of `key new|show|import`."""
    return dict(re.findall(r"^(\w+):\s+(\S+)$", stdout, flags=re.MULTILINE))


def test_key_new_show_import_and_the_key_file(tmp_path: Path) -> None:
    home, imported, from_hex = tmp_path / "new", tmp_path / "imported", tmp_path / "hex"
    key, other = SecretKey(make_key(310)), SecretKey(make_key(311))
    created_run, stdin_run, hex_run = run_many(
        [
            Call(("key", "new"), home),
            Call(("key", "import"), imported, stdin=key.nsec + "\n"),
            Call(("key", "import", other.hex), from_hex),
        ]
    )
    for result in (created_run, stdin_run, hex_run):
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    created = shown(created_run.stdout)
    assert created["npub"].startswith("npub1") and "nsec" not in created
    assert shown(stdin_run.stdout)["hex"] == key.public_key
    assert shown(hex_run.stdout)["npub"] == npub(other.public_key)

    plain, secret, again, reloaded = run_many(
        [
            Call(("key", "show"), home),
            Call(("key", "show", "--secret"), home),
            Call(("key", "new"), home),
            Call(("key", "show"), imported),
        ]
    )
    assert plain.returncode == 0 and secret.returncode == 0, (plain.stderr, secret.stderr)
    assert "nsec" not in plain.stdout
    assert shown(plain.stdout) == {"npub": created["npub"], "hex": created["hex"]}
    values = shown(secret.stdout)
    assert values["npub"] == created["npub"] and values["nsec"].startswith("nsec1")
    decoded = SecretKey.parse(values["nsec"])
    assert decoded.public_key == created["hex"] and npub(decoded.public_key) == created["npub"]
    assert_one_line_error(again, "--force")  # `key new` does not replace a key silently
    assert reloaded.returncode == 0 and shown(reloaded.stdout)["npub"] == npub(key.public_key)

    for folder, secret_key in ((home, decoded), (imported, key), (from_hex, other)):
        key_file = folder / "key.ncryptsec"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        stored = key_file.read_text()
        assert stored.startswith("ncryptsec1")
        assert secret_key.hex not in stored.lower() and secret_key.nsec not in stored
        assert [p.name for p in folder.iterdir()] == ["key.ncryptsec"]  # no temporary file left


# -- the client commands against a real node ------------------------------------------------------


@pytest.fixture(scope="module")
def my_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli") / "home"
    cli("key", "import", home=home, stdin=SecretKey(ME).nsec + "\n")
    return home


def published_id(stdout: str) -> str:
    match = re.search(r"^id: ([0-9a-f]{64})$", stdout, flags=re.MULTILINE)
    assert match, stdout
    assert re.search(r"^published note1\w+$", stdout, flags=re.MULTILINE), stdout
    return match.group(1)


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stdout.splitlines() if line.strip()]


async def acli(*calls: Call) -> list[str]:
    """Run independent commands concurrently; each must succeed. Their stdouts."""
    results = await asyncio.to_thread(run_many, calls)
    for call, result in zip(calls, results, strict=True):
        assert result.returncode == 0, f"koinon {' '.join(call.args)}: {result.stderr}"
        assert "Traceback" not in result.stderr
    return [r.stdout for r in results]


async def test_post_reply_react_follow_feed_req(relay_url: str, my_home: Path) -> None:
    relay = ("--relay", relay_url)
    me, friend, other = pubkey_of(ME), pubkey_of(FRIEND), pubkey_of(make_key(303))

    def mine(*args: str) -> Call:
        return Call((*args, *relay), my_home)

    [posted] = await acli(mine("post", "hello, koinon", "-t", "#Intro"))
    post_id = published_id(posted)
    replied, reacted, followed = await acli(
        mine("reply", post_id, "answering myself"),
        mine("react", f"nostr:{post_id}"),
        mine("follow", npub(friend)),
    )
    reply_id, react_id = published_id(replied), published_id(reacted)
    published_id(followed)
    # A second follow keeps the first (a NIP-02 list is replaced as a whole).
    follow_id = published_id((await acli(mine("follow", other, friend)))[0])
    friends_note = make_event(FRIEND, 1, "a note from a friend")
    async with connect(relay_url) as client:
        assert (await client.publish(friends_note))[0]

    found, following = await acli(
        Call(("req", json_filter(ids=[post_id, reply_id, react_id]), *relay)),
        mine("feed", "--json", "--limit", "50"),
    )
    events = json_lines(found)
    by_id = {e["id"]: e for e in events}
    assert set(by_id) == {post_id, reply_id, react_id}
    assert all(e["pubkey"] == me for e in events)
    post, reply, react = (by_id[i] for i in (post_id, reply_id, react_id))
    assert (post["kind"], post["content"], post["tags"]) == (1, "hello, koinon", [["t", "intro"]])
    assert reply["kind"] == 1 and ["e", post_id, "", "root"] in reply["tags"]
    assert ["p", me] in reply["tags"]
    assert (react["kind"], react["content"]) == (7, "+")
    assert ["e", post_id] in react["tags"] and ["p", me] in react["tags"]

    async with connect(relay_url) as client:
        contacts = await client.query({"kinds": [3], "authors": [me]})
    assert [c["id"] for c in contacts] == [follow_id]
    assert contacts[0]["tags"] == [["p", friend], ["p", other]]

    # The feed shows notes of the people I follow, and only theirs.
    assert friends_note.id in [e["id"] for e in json_lines(following)]
    assert all(e["pubkey"] in (friend, other) for e in json_lines(following))


def json_filter(**fields: Any) -> str:
    return orjson.dumps(fields).decode()


# -- errors: one line on stderr, non-zero status, no traceback -----------------------------------


def test_errors_are_one_line(relay_url: str, my_home: Path, tmp_path: Path) -> None:
    relay = ("--relay", relay_url)
    nowhere = ("--relay", f"ws://127.0.0.1:{free_port()}")
    unknown = "ab" * 32
    cases = {
        "unreachable relay": Call(("req", "{}", *nowhere)),
        "bad filter JSON": Call(("req", "{not json", *relay)),
        "unknown event id": Call(("reply", unknown, "hi", *relay), my_home),
        "no key yet": Call(("post", "hello", *relay), tmp_path / "empty"),
        "wrong passphrase": Call(("key", "show"), my_home, passphrase="not the passphrase"),
        "not a secret key": Call(("key", "import"), tmp_path / "bad", stdin="nsec1nope\n"),
    }
    results = dict(zip(cases, run_many(list(cases.values())), strict=True))
    for name, result in results.items():
        try:
            assert_one_line_error(result)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
    assert "not found" in results["unknown event id"].stderr
    assert "JSON" in results["bad filter JSON"].stderr
    assert "passphrase" in results["wrong passphrase"].stderr
    assert results["wrong passphrase"].stdout == ""
    assert not (tmp_path / "bad" / "key.ncryptsec").exists()


def top_level(parser: argparse.ArgumentParser) -> set[str]:
    """The names of the top-level commands of a parser."""
    return {path[0] for path in command_paths(parser) if len(path) == 1}


def test_each_command_is_run_by_the_module_that_registers_it() -> None:
    """`koinon X` imports only COMMAND_MODULES[X]; that module must register X and nothing else."""
    assert top_level(build_parser()) == set(COMMAND_MODULES)
    for module in command_modules():
        expected = {name for name, owner in COMMAND_MODULES.items() if owner == module}
        assert top_level(build_parser(only=module)) == expected, module


def test_a_command_loads_only_its_own_module() -> None:
    script = (
        "import json, sys, contextlib, io\n"
        "from koinon.cli.main import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['key', '--help'])\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.startswith('koinon.cli.'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded = set(orjson.loads(result.stdout))
    assert "koinon.cli.keycmd" in loaded
    assert not loaded & {"koinon.cli.dmcmd", "koinon.cli.rewardscmd", "koinon.cli.social"}
