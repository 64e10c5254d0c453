"""The NIP-11 relay information document."""

from __future__ import annotations

from typing import Any

from koinon import __version__
from koinon.settings import Settings

SUPPORTED_NIPS = [1, 9, 11, 13, 42, 45]


def relay_information(settings: Settings, node_pubkey: str) -> dict[str, Any]:
    """What clients learn about this node before they connect."""
    limits = settings.limits
    return {
        "name": settings.name,
        "description": settings.description,
        "pubkey": node_pubkey,
        "contact": settings.contact,
        "supported_nips": SUPPORTED_NIPS,
        "software": "koinon",
        "version": __version__,
        "limitation": {
            "max_message_length": limits.max_message_bytes,
            "max_subscriptions": limits.max_subscriptions,
            "max_filters": limits.max_filters,
            "max_limit": limits.max_limit,
            "default_limit": limits.default_limit,
            "max_subid_length": limits.max_subid_length,
            "max_event_tags": limits.max_event_tags,
            "max_content_length": limits.max_content_bytes,
            "min_pow_difficulty": limits.min_pow,
            "auth_required": limits.auth_required_for_read,
            "restricted_writes": limits.auth_required_for_write,
            "created_at_upper_limit": limits.max_future_seconds,
        },
    }
