"""QEMU's cache modes, as the three flags they stand for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CacheMode:
    """`cache.writeback` (off: every write is flushed before it completes), `cache.direct`
    (O_DIRECT: no host page cache) and `cache.no-flush` (flushes ignored)."""

    writeback: bool = True
    direct: bool = False
    no_flush: bool = False


CACHE_MODES = {
    "writeback": CacheMode(),
    "writethrough": CacheMode(writeback=False),
    "none": CacheMode(direct=True),
    "directsync": CacheMode(writeback=False, direct=True),
    "unsafe": CacheMode(no_flush=True),
}
