"""Cache values are sealed with AES-256-GCM: they open only under their key, intact, and in
this scheme; anything else reads as absent."""

from __future__ import annotations

import hashlib
import os

from selfmem.storage import sealing


def test_a_sealed_value_opens_under_its_key_and_hides_the_plaintext() -> None:
    key = sealing.new_key()
    plaintext = b"deploy the web service with token=abc" * 10
    sealed = sealing.seal(key, plaintext)
    assert sealing.open_sealed(key, sealed) == plaintext
    assert b"deploy" not in sealed and len(sealed) == len(plaintext) + 1 + 12 + 16
    assert sealing.seal(key, plaintext) != sealed  # a fresh nonce every time
    assert sealing.open_sealed(key, sealing.seal(key, b"")) == b""


def test_another_key_a_flipped_bit_or_a_cut_value_does_not_open() -> None:
    key = sealing.new_key()
    sealed = sealing.seal(key, b"payload")
    assert sealing.open_sealed(sealing.new_key(), sealed) is None  # the key was rotated
    for i in (0, 5, len(sealed) - 1):
        damaged = bytearray(sealed)
        damaged[i] ^= 1
        assert sealing.open_sealed(key, bytes(damaged)) is None
    assert sealing.open_sealed(key, sealed[:-1]) is None
    assert sealing.open_sealed(key, b"") is None


def test_values_sealed_by_the_earlier_scheme_read_as_absent() -> None:
    """The earlier scheme: a 16-byte nonce, the plaintext XORed with a SHAKE-256 keystream
    of key and nonce, a keyed BLAKE2b tag; a cache written by it is rebuilt, not misread."""
    key, nonce, plaintext = sealing.new_key(), os.urandom(16), b"an old cache value"
    stream = hashlib.shake_256(key + nonce).digest(len(plaintext))
    body = nonce + bytes(a ^ b for a, b in zip(plaintext, stream, strict=True))
    old = body + hashlib.blake2b(body, key=key, digest_size=16).digest()
    assert sealing.open_sealed(key, old) is None
