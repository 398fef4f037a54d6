"""Sealing cache values so deleted data is unrecoverable from the cache files.

LMDB is copy-on-write: bytes of a deleted entry can stay in unused pages until they are
reused. So the cache never holds plaintext. Each value is sealed with a key kept in the
durable store (whose deletes are scrubbed): a fresh 16-byte nonce, the plaintext XORed with
a SHAKE-256 keystream of ``key || nonce``, and a 16-byte keyed BLAKE2b tag over both. When
an episode is deleted the key is replaced and the cache emptied, so whatever stale bytes
remain are ciphertext under a key that no longer exists.
"""

from __future__ import annotations

import hashlib
import hmac
import os

__all__ = ["KEY_BYTES", "new_key", "open_sealed", "seal"]

KEY_BYTES = 32
_NONCE = 16
_TAG = 16


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    return hashlib.shake_256(key + nonce).digest(length)


def _tag(key: bytes, body: bytes) -> bytes:
    return hashlib.blake2b(body, key=key, digest_size=_TAG).digest()


def _xor(data: bytes, stream: bytes) -> bytes:
    import numpy as np  # imported on first use: importing selfmem stays light

    left = np.frombuffer(data, dtype=np.uint8)
    right = np.frombuffer(stream, dtype=np.uint8)
    return np.bitwise_xor(left, right).tobytes()


def seal(key: bytes, plaintext: bytes) -> bytes:
    """``nonce || ciphertext || tag``."""
    nonce = os.urandom(_NONCE)
    body = nonce + _xor(plaintext, _keystream(key, nonce, len(plaintext)))
    return body + _tag(key, body)


def open_sealed(key: bytes, sealed: bytes) -> bytes | None:
    """The plaintext, or ``None`` if the value was sealed under another key or is damaged."""
    if len(sealed) < _NONCE + _TAG:
        return None
    body, tag = sealed[:-_TAG], sealed[-_TAG:]
    if not hmac.compare_digest(tag, _tag(key, body)):
        return None
    nonce, ciphertext = body[:_NONCE], body[_NONCE:]
    return _xor(ciphertext, _keystream(key, nonce, len(ciphertext)))
