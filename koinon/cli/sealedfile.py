"""A file sealed under the user's passphrase, for CLI state that holds secrets.

XChaCha20-Poly1305 under a key derived from the passphrase by scrypt (N = 2^15, r = 8) with a
random salt kept in `salt` beside the file; each write draws a fresh nonce and replaces the file
atomically with mode 0600. Nothing is ever written in clear.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import nacl.bindings
import nacl.exceptions

from koinon.errors import KoinonError

SALT_FILE = "salt"
_NONCE_SIZE = 24
_SCRYPT_N, _SCRYPT_R, _SCRYPT_MAXMEM = 2**15, 8, 2**26


class SealedFileError(KoinonError):
    """A sealed file that does not open: wrong passphrase, damage, or not ours."""


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` (mode 0600, folder 0700) atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


@functools.lru_cache(maxsize=8)
def _derive(salt: bytes, passphrase: str) -> bytes:
    return hashlib.scrypt(
        passphrase.encode(),
        salt=salt,
        n=_SCRYPT_N,
        r=_SCRYPT_R,
        p=1,
        maxmem=_SCRYPT_MAXMEM,
        dklen=32,
    )


@dataclass(frozen=True)
class SealedFile:
    """One sealed file: `magic` opens it, `aad` binds its purpose into the AEAD."""

    path: Path
    magic: bytes
    aad: bytes

    def exists(self) -> bool:
        """Whether the file has been written."""
        return self.path.exists()

    def _key(self, passphrase: str) -> bytes:
        salt_path = self.path.parent / SALT_FILE
        if not salt_path.exists():
            write_private(salt_path, os.urandom(16))
        return _derive(salt_path.read_bytes(), passphrase)

    def write(self, passphrase: str, plaintext: bytes) -> None:
        """Seal `plaintext` and replace the file."""
        nonce = os.urandom(_NONCE_SIZE)
        sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, self.aad, nonce, self._key(passphrase)
        )
        write_private(self.path, self.magic + nonce + sealed)

    def read(self, passphrase: str) -> bytes:
        """The plaintext; a wrong passphrase, damage or another file raise SealedFileError."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise SealedFileError(f"cannot read {self.path}: {exc.strerror}") from None
        if not data.startswith(self.magic):
            raise SealedFileError(f"{self.path} is not the file expected here")
        start = len(self.magic)
        nonce, sealed = data[start : start + _NONCE_SIZE], data[start + _NONCE_SIZE :]
        try:
            return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                sealed, self.aad, nonce, self._key(passphrase)
            )
        except nacl.exceptions.CryptoError:
            raise SealedFileError(
                f"cannot open {self.path}: wrong passphrase or damaged file"
            ) from None
