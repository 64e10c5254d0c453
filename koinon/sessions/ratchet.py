"""The Double Ratchet (Signal's specification) over X25519, HKDF/HMAC-SHA256 and ChaCha20-Poly1305.

A message on the wire is a 41-byte header — version u8 (1), the sender's ratchet public key, `pn`
(length of its previous sending chain) and `n` (index in the current chain), both u32 big-endian —
followed by the ChaCha20-Poly1305 ciphertext under the message key (nonce: `message_nonce`), with
associated data = session AD || header.

`decrypt` computes on local values and changes the session only when the AEAD tag verifies, so a
forged, tampered, replayed or too-far-ahead message leaves it exactly as it was.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from koinon.sessions.errors import DecryptError, ReplayError, SessionError, TooManySkipped
from koinon.sessions.primitives import KeyPair, Random, dh, kdf_ck, kdf_rk, message_nonce
from koinon.sessions.ratchet_state import SkippedKeys, dump, load

MESSAGE_VERSION = 1
MAX_SKIP = 1000
"""Most message keys one message may make us skip in one chain (Signal's MAX_SKIP)."""
MAX_STORED_SKIPPED = 2000
"""Most skipped message keys kept at all; past it the oldest are forgotten."""
MAX_RETIRED = 16
"""How many past receiving ratchet keys are remembered, to call their messages replays."""
MAX_COUNTER = 2**32 - 1
HEADER = struct.Struct(">B32sII")
TAG_SIZE = 16


def _seal(message_key: bytes, associated: bytes, plaintext: bytes) -> bytes:
    return ChaCha20Poly1305(message_key).encrypt(message_nonce(message_key), plaintext, associated)


def _open(message_key: bytes, associated: bytes, ciphertext: bytes) -> bytes:
    try:
        return ChaCha20Poly1305(message_key).decrypt(
            message_nonce(message_key), ciphertext, associated
        )
    except InvalidTag as exc:
        raise DecryptError("message failed authentication") from exc


def _skip(
    chain_key: bytes, start: int, until: int, ratchet_key: bytes
) -> tuple[bytes, SkippedKeys]:
    """The chain key at index `until` and the message keys of indices [start, until)."""
    if until - start > MAX_SKIP:
        raise TooManySkipped(f"message is {until - start} keys ahead; at most {MAX_SKIP} allowed")
    skipped: SkippedKeys = {}
    for index in range(start, until):
        chain_key, skipped[(ratchet_key, index)] = kdf_ck(chain_key)
    return chain_key, skipped


class Ratchet:
    """One side of a pairwise Double Ratchet session; keep it at rest as encrypted `to_bytes`."""

    __slots__ = (
        "_ad",
        "_ckr",
        "_cks",
        "_dhr",
        "_dhs",
        "_nr",
        "_ns",
        "_pn",
        "_random",
        "_retired",
        "_rk",
        "_skipped",
    )

    def __init__(
        self,
        random: Random,
        associated_data: bytes,
        root_key: bytes,
        dhs: KeyPair,
        dhr: bytes | None,
        cks: bytes | None,
        ckr: bytes | None,
        counters: tuple[int, int, int] = (0, 0, 0),
        skipped: SkippedKeys | None = None,
        retired: list[bytes] | None = None,
    ) -> None:
        self._random = random
        self._ad = associated_data
        self._rk = root_key
        self._dhs = dhs
        self._dhr = dhr
        self._cks = cks
        self._ckr = ckr
        self._ns, self._nr, self._pn = counters
        self._skipped: SkippedKeys = {} if skipped is None else skipped
        self._retired: list[bytes] = [] if retired is None else retired

    @classmethod
    def initiator(
        cls, shared_secret: bytes, associated_data: bytes, peer_ratchet_key: bytes, random: Random
    ) -> Ratchet:
        """The X3DH initiator's side; `peer_ratchet_key` is the responder's signed prekey."""
        dhs = KeyPair.generate(random)
        root_key, cks = kdf_rk(shared_secret, dh(dhs, peer_ratchet_key))
        return cls(random, associated_data, root_key, dhs, peer_ratchet_key, cks, None)

    @classmethod
    def responder(
        cls, shared_secret: bytes, associated_data: bytes, signed_prekey: KeyPair, random: Random
    ) -> Ratchet:
        """The X3DH responder's side; it can send once the first message has decrypted."""
        return cls(random, associated_data, shared_secret, signed_prekey, None, None, None)

    @property
    def associated_data(self) -> bytes:
        """The session's AD, from X3DH."""
        return self._ad

    @property
    def skipped_count(self) -> int:
        """How many skipped message keys are stored."""
        return len(self._skipped)

    def encrypt(self, plaintext: bytes) -> bytes:
        """Header || ciphertext of `plaintext`, advancing the sending chain."""
        if self._cks is None:
            raise SessionError("the responder cannot send before the first message has arrived")
        if self._ns >= MAX_COUNTER:
            raise SessionError("sending chain exhausted")
        cks, message_key = kdf_ck(self._cks)
        header = HEADER.pack(MESSAGE_VERSION, self._dhs.public, self._pn, self._ns)
        ciphertext = _seal(message_key, self._ad + header, plaintext)
        self._cks = cks
        self._ns += 1
        return header + ciphertext

    def decrypt(self, message: bytes) -> bytes:
        """The plaintext of `message`; on any failure raises DecryptError and changes nothing."""
        if not isinstance(message, bytes) or len(message) < HEADER.size + TAG_SIZE:
            raise DecryptError("message too short")
        header = message[: HEADER.size]
        version, ratchet_key, pn, n = HEADER.unpack(header)
        if version != MESSAGE_VERSION:
            raise DecryptError(f"unknown message version {version}")
        associated = self._ad + header
        ciphertext = message[HEADER.size :]
        message_key = self._skipped.get((ratchet_key, n))
        if message_key is not None:
            plaintext = _open(message_key, associated, ciphertext)
            del self._skipped[(ratchet_key, n)]
            return plaintext
        if ratchet_key == self._dhr:
            return self._decrypt_in_chain(ratchet_key, n, associated, ciphertext)
        if ratchet_key in self._retired:
            raise ReplayError("message key already used or discarded")
        return self._decrypt_after_ratchet(ratchet_key, pn, n, associated, ciphertext)

    def _decrypt_in_chain(self, ratchet_key: bytes, n: int, associated: bytes, ct: bytes) -> bytes:
        if self._ckr is None:
            raise DecryptError("no receiving chain for this ratchet key")
        if n < self._nr:
            raise ReplayError("message key already used or discarded")
        ckr, skipped = _skip(self._ckr, self._nr, n, ratchet_key)
        ckr, message_key = kdf_ck(ckr)
        plaintext = _open(message_key, associated, ct)
        self._ckr, self._nr = ckr, n + 1
        self._store_skipped(skipped)
        return plaintext

    def _decrypt_after_ratchet(
        self, ratchet_key: bytes, pn: int, n: int, associated: bytes, ct: bytes
    ) -> bytes:
        old_skipped: SkippedKeys = {}
        if self._ckr is not None and self._dhr is not None:
            _, old_skipped = _skip(self._ckr, self._nr, max(pn, self._nr), self._dhr)
        try:
            root_key, ckr = kdf_rk(self._rk, dh(self._dhs, ratchet_key))
        except SessionError as exc:
            raise DecryptError(str(exc)) from exc
        ckr, new_skipped = _skip(ckr, 0, n, ratchet_key)
        ckr, message_key = kdf_ck(ckr)
        plaintext = _open(message_key, associated, ct)
        # Authentic: commit the receiving step, then the sending step with a fresh key pair.
        dhs = KeyPair.generate(self._random)
        self._rk, self._cks = kdf_rk(root_key, dh(dhs, ratchet_key))
        if self._dhr is not None:
            self._retired = [*self._retired, self._dhr][-MAX_RETIRED:]
        self._dhs, self._dhr, self._ckr = dhs, ratchet_key, ckr
        self._pn, self._ns, self._nr = self._ns, 0, n + 1
        self._store_skipped(old_skipped)
        self._store_skipped(new_skipped)
        return plaintext

    def _store_skipped(self, skipped: SkippedKeys) -> None:
        if not skipped:
            return
        self._skipped.update(skipped)
        excess = len(self._skipped) - MAX_STORED_SKIPPED
        if excess > 0:
            for key in list(self._skipped)[:excess]:
                del self._skipped[key]

    def to_bytes(self) -> bytes:
        """The versioned state (see `ratchet_state`); it holds secrets, so encrypt it at rest."""
        return dump(
            self._ad,
            self._rk,
            self._dhs.secret,
            (self._dhr, self._cks, self._ckr),
            (self._ns, self._nr, self._pn),
            self._skipped,
            self._retired,
        )

    @classmethod
    def from_bytes(cls, data: bytes, random: Random) -> Ratchet:
        """A session from `to_bytes` output; malformed data raises StateError."""
        ad, rk, dhs, (dhr, cks, ckr), counters, skipped, retired = load(data)
        return cls(
            random, ad, rk, KeyPair.from_secret(dhs), dhr, cks, ckr, counters, skipped, retired
        )
