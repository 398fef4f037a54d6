"""Sealing cache values so deleted data is unrecoverable from the cache files.

LMDB is copy-on-write: bytes of a deleted entry can stay in unused pages until they are
reused. So the cache never holds plaintext. Each value is sealed with AES-256-GCM under a
key kept in the durable store (whose deletes are scrubbed): a version byte, a fresh 12-byte
nonce, then the ciphertext and its 16-byte tag. When an episode is deleted the key is
replaced and the cache emptied, so whatever stale bytes remain are ciphertext under a key
that no longer exists.

Random 96-bit nonces are safe for about 2**32 values under one key; a key lives until the
next delete of an episode. Values sealed by earlier versions (a SHAKE-256 keystream with a
BLAKE2b tag, no version byte) no longer open: they read as absent, like values sealed under
a rotated key, and are rebuilt from the store.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["KEY_BYTES", "new_key", "open_sealed", "seal"]

KEY_BYTES = 32
_VERSION = 2
_NONCE = 12
_TAG = 16


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _cipher(key: bytes) -> AESGCM:
    """A cipher for ``key``, made per call: no copy of a rotated key stays cached."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # first use: light import

    return AESGCM(key)


def seal(key: bytes, plaintext: bytes) -> bytes:
    """``version || nonce || ciphertext || tag``."""
    nonce = os.urandom(_NONCE)
    return bytes((_VERSION,)) + nonce + _cipher(key).encrypt(nonce, plaintext, None)


def open_sealed(key: bytes, sealed: bytes) -> bytes | None:
    """The plaintext, or ``None`` if the value was sealed under another key or scheme, or is
    damaged."""
    from cryptography.exceptions import InvalidTag

    if len(sealed) < 1 + _NONCE + _TAG or sealed[0] != _VERSION:
        return None
    view = memoryview(sealed)
    try:
        return _cipher(key).decrypt(view[1 : 1 + _NONCE], view[1 + _NONCE :], None)
    except InvalidTag:
        return None
