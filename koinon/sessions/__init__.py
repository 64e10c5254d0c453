"""Forward-secret pairwise sessions: X3DH key agreement and the Double Ratchet, sans I/O."""

from koinon.sessions.errors import (
    BundleError,
    DecryptError,
    HandshakeError,
    PrekeyError,
    ReplayError,
    SessionError,
    StateError,
    TooManySkipped,
)
from koinon.sessions.prekeys import IdentityKeys, OneTimePrekeys, PrekeyBundle, SignedPrekeys
from koinon.sessions.primitives import KeyPair, Random
from koinon.sessions.ratchet import MAX_SKIP, MAX_STORED_SKIPPED, Ratchet
from koinon.sessions.x3dh import InitialMessageHeader, initiate, respond

__all__ = [
    "MAX_SKIP",
    "MAX_STORED_SKIPPED",
    "BundleError",
    "DecryptError",
    "HandshakeError",
    "IdentityKeys",
    "InitialMessageHeader",
    "KeyPair",
    "OneTimePrekeys",
    "PrekeyBundle",
    "PrekeyError",
    "Random",
    "Ratchet",
    "ReplayError",
    "SessionError",
    "SignedPrekeys",
    "StateError",
    "TooManySkipped",
    "initiate",
    "respond",
]
