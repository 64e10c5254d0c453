"""Shared fixtures: a real node process for the session, and in-process nodes per test.

* `relay_url`: the websocket URL of a `koinon up` subprocess shared by the whole session.
* `node`: a `Node` started in this event loop on a free port with default limits; override limits
  with indirect parametrization, e.g.
  `@pytest.mark.parametrize("node", [{"min_pow": 8}], indirect=True)`.
* `make_node`: a factory, `await make_node(max_subscriptions=3)`, for several nodes or limits
  chosen inside the test. Every node it made is stopped at the end of the test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from koinon.node import Node
from koinon.settings import Limits, Settings
from tests.helpers import start_node_process

MakeNode = Callable[..., Awaitable[Node]]


@pytest.fixture(scope="session")
def relay_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `koinon up` process (rate limit off) for the session; yields its websocket URL."""
    node = start_node_process(tmp_path_factory.mktemp("relay") / "data")
    try:
        yield node.ws_url
    finally:
        node.stop()


@pytest.fixture
async def make_node(tmp_path: Path) -> AsyncIterator[MakeNode]:
    """Start in-process nodes on 127.0.0.1 with `Limits` fields overridden by keyword."""
    nodes: list[Node] = []

    async def factory(**limit_overrides: Any) -> Node:
        limits = dataclasses.replace(Limits(), **limit_overrides)
        data_dir = tmp_path / f"node-{len(nodes)}"
        node = Node(Settings(data_dir=data_dir, host="127.0.0.1", port=0, limits=limits))
        await node.start()
        nodes.append(node)
        return node

    try:
        yield factory
    finally:
        for node in reversed(nodes):
            await node.stop()


@pytest.fixture
async def node(request: pytest.FixtureRequest, make_node: MakeNode) -> Node:
    """One in-process node; `request.param` (indirect parametrization) overrides limits."""
    overrides: dict[str, Any] = getattr(request, "param", None) or {}
    return await make_node(**overrides)
