"""pytest configuration for the nostr-tools interop harness (tests/interop)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Registered here as well as (possibly) in pyproject.toml, so that --strict-markers
    # never trips on it; registering a marker twice is harmless.
    config.addinivalue_line(
        "markers",
        "interop: runs an independent Nostr implementation (nostr-tools under Node.js) against Koinon",
    )
