"""The errors of pairwise sessions: every bad bundle, handshake or message raises one of these."""

from __future__ import annotations

from koinon.errors import KoinonError


class SessionError(KoinonError):
    """Base of every session failure: bad input from a peer or a misuse by the caller."""


class BundleError(SessionError):
    """A prekey bundle is malformed or its signed prekey signature does not verify."""


class PrekeyError(SessionError):
    """A one-time or signed prekey is unknown, already consumed or expired."""


class HandshakeError(SessionError):
    """An X3DH initial message is malformed or does not bind to the claimed identity."""


class DecryptError(SessionError):
    """A ratchet message is malformed, forged, tampered with or not for this session."""


class ReplayError(DecryptError):
    """A ratchet message whose key was already used (or discarded) arrived again."""


class TooManySkipped(DecryptError):
    """A message would need more skipped message keys than the session allows."""


class StateError(SessionError):
    """Serialized session state is malformed or of an unknown version."""
