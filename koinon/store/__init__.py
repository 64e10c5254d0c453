"""Event storage: the store protocol and its SQLite implementation."""

from koinon.store.base import EventStore, StoreError

__all__ = ["EventStore", "StoreError"]
