"""Files beside the hot cache, sealed like its values: a JSON header, then a body in pieces.

The index snapshots and the HNSW graphs are written this way rather than as cache values:
reading one back takes a single pass over a plain file into memory the process owns, where a
value read from LMDB is first copied out of its memory map and stays counted in the
process's resident memory as mapped file pages.

A file is a magic string, then pieces: each is its sealed length (8 bytes, big-endian) and
the sealed bytes (:mod:`selfmem.storage.sealing`). The first piece is the header, a JSON
object holding at least ``gen`` (8 random bytes, hex) and ``bytes`` (the body's length).
Every later piece is ``gen``, its number (8 bytes) and at most :data:`CHUNK` bytes of the
body. A file is written under a temporary name and renamed, so a reader finds a whole file
or the one before; a file cut short, one that mixes two writes, or one that does not unseal
under the current key (a delete rotated it) raises :class:`ValueError` when read.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["CHUNK", "STALE_S", "new_gen", "path_for", "read_body", "read_header", "write"]

CHUNK = 4 * 1024 * 1024
#: A temporary file untouched for this long belongs to a writer that died.
STALE_S = 3600.0
_LENGTH = struct.Struct(">Q")
_GEN = 8


def path_for(directory: Path, namespace: str) -> Path:
    """``directory/<digest of the namespace>.bin``: any characters, a fixed length."""
    return directory / f"{hashlib.blake2b(namespace.encode(), digest_size=16).hexdigest()}.bin"


def new_gen() -> str:
    """A fresh write id for a header's ``gen``."""
    return os.urandom(_GEN).hex()


def write(
    path: Path,
    magic: bytes,
    header: dict[str, Any],
    body: bytes | bytearray | memoryview,
    seal: Callable[[bytes], bytes],
) -> None:
    """Write ``header`` and ``body`` to ``path``, sealed, replacing it whole. Temporary
    files of ``path`` that writers left more than :data:`STALE_S` ago (a process killed
    mid-write) are removed first: at a million episodes each holds some 300 MB."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    temporary = path.with_suffix(f".{os.getpid()}.{os.urandom(4).hex()}.tmp")
    gen = bytes.fromhex(header["gen"])
    view = memoryview(body).cast("B")
    try:
        with temporary.open("wb") as file:
            file.write(magic)
            pieces = (
                json.dumps(header, separators=(",", ":")).encode(),
                *(gen + _LENGTH.pack(n) + bytes(view[start : start + CHUNK])
                  for n, start in enumerate(range(0, len(view), CHUNK))),
            )  # fmt: skip
            for piece in pieces:
                sealed = seal(piece)
                file.write(_LENGTH.pack(len(sealed)) + sealed)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _remove_stale(path: Path) -> None:
    cutoff = time.time() - STALE_S
    for leftover in path.parent.glob(f"{path.stem}.*.tmp"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:  # another writer removed or renamed it meanwhile
            continue


def _pieces(file: BinaryIO, unseal: Callable[[bytes], bytes | None]) -> Iterator[bytes]:
    while True:
        head = file.read(_LENGTH.size)
        if not head:
            return
        (length,) = _LENGTH.unpack(head)
        sealed = file.read(length)
        if len(sealed) != length:
            raise ValueError("sealed file is cut short")
        piece = unseal(sealed)
        if piece is None:
            raise ValueError("sealed file does not unseal with the current key")
        yield piece


def read_header(
    file: BinaryIO, magic: bytes, unseal: Callable[[bytes], bytes | None]
) -> dict[str, Any]:
    """The header of an open sealed file; the file is left at the body's first piece."""
    if file.read(len(magic)) != magic:
        raise ValueError("not a sealed file of this kind")
    header = next(_pieces(file, unseal), None)
    if header is None:
        raise ValueError("sealed file has no header")
    found: dict[str, Any] = json.loads(header)
    if not isinstance(found, dict):
        raise ValueError("sealed file's header is not an object")
    return found


def read_body(
    file: BinaryIO, header: dict[str, Any], unseal: Callable[[bytes], bytes | None]
) -> bytearray:
    """The body that follows :func:`read_header`, whole and from one write."""
    body = bytearray(int(header["bytes"]))
    offset, gen = 0, bytes.fromhex(header["gen"])
    for number, piece in enumerate(_pieces(file, unseal)):
        if piece[:_GEN] != gen or _LENGTH.unpack_from(piece, _GEN)[0] != number:
            raise ValueError("sealed file mixes two writes")
        size = len(piece) - _GEN - _LENGTH.size
        if offset + size > len(body):
            raise ValueError("sealed file is longer than its header says")
        body[offset : offset + size] = memoryview(piece)[_GEN + _LENGTH.size :]
        offset += size
    if offset != len(body):
        raise ValueError("sealed file is incomplete")
    return body
