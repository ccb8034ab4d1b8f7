"""Plain, gzip and BGZF files: which one a file is, and its bytes as a stream of chunks.

BGZF blocks are inflated independently on a background thread, so parsing overlaps with
decompression.
"""

from __future__ import annotations

import gzip
import os
import queue
import threading
import zlib
from pathlib import Path
from typing import Iterator


def compression(path: str | os.PathLike) -> str:
    """``"plain"``, ``"gzip"`` or ``"bgzf"`` (block-gzip, as ``bgzip`` writes), from the magic bytes."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] != b"\x1f\x8b":
        return "plain"
    if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
        return "bgzf"
    return "gzip"


_CHUNK = 1 << 22


def _bgzf_blocks(path: Path) -> Iterator[bytes]:
    """Decompressed bytes of a BGZF file, ~4 MB at a time.

    One ``zlib.decompress`` per block (which checks its CRC), no per-member Python overhead of
    the ``gzip`` module. A missing end-of-file block means a truncated file.
    """
    pending: list[bytes] = []
    size = 0
    last = b"x"
    with open(path, "rb") as fh:
        buf, pos, eof = b"", 0, False
        while True:
            if not eof and len(buf) - pos < (1 << 17):
                more = fh.read(_CHUNK)
                eof = not more
                buf, pos = buf[pos:] + more, 0
            if pos >= len(buf):
                break
            head = buf[pos:pos + 18]
            if len(head) < 18 or head[:4] != b"\x1f\x8b\x08\x04" or head[12:14] != b"BC":
                raise ValueError(f"{path} is truncated or corrupt: no BGZF block header at "
                                 f"byte {fh.tell() - len(buf) + pos}; download it again")
            bsize = int.from_bytes(head[16:18], "little") + 1
            if pos + bsize > len(buf):
                raise ValueError(f"{path} is truncated: its last BGZF block is incomplete; "
                                 "download it again")
            try:
                last = zlib.decompress(memoryview(buf)[pos:pos + bsize], 31)
            except zlib.error as err:
                raise ValueError(f"{path} is corrupt ({err}); download it again") from None
            pos += bsize
            if last:
                pending.append(last)
                size += len(last)
                if size >= _CHUNK:
                    yield b"".join(pending)
                    pending, size = [], 0
    if pending:
        yield b"".join(pending)
    if last:
        raise ValueError(f"{path} is truncated: the BGZF end-of-file block is missing; "
                         "download it again")


def _decompressed(path: Path) -> Iterator[bytes]:
    """The bytes of a plain, gzip or BGZF file, a few MB at a time."""
    kind = compression(path)
    if kind == "bgzf":
        yield from _bgzf_blocks(path)
        return
    opener = open if kind == "plain" else gzip.open
    try:
        with opener(path, "rb") as fh:
            while block := fh.read(_CHUNK):
                yield block
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"{path} is truncated or corrupt ({err}); download it again") from None


def _prefetch(items: Iterator[bytes], depth: int = 2) -> Iterator[bytes]:
    """Run ``items`` in a background thread (zlib releases the GIL, so decompression overlaps
    the caller's scanning); errors are re-raised in the caller."""
    q: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as err:  # handed to the consumer
            q.put(err)

    worker = threading.Thread(target=produce, name="cornlib-gff-reader", daemon=True)
    worker.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
