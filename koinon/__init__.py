"""Koinon: a social network nobody owns, built on signed Nostr events."""

__version__ = "0.1.0"
