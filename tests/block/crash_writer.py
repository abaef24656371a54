"""A writer that the crash test kills: deterministic operations, a line after each flush.

Run as `python -m tests.block.crash_writer IMAGE SEED`.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator

SIZE = 4 << 20


def operations(seed: int) -> Iterator[tuple[str, int, int, int]]:
    """(kind, offset, length, byte) forever: writes, zeroes, discards, and flushes."""
    rng = random.Random(seed)
    while True:
        kind = rng.choice(["write"] * 6 + ["zero", "discard", "flush"])
        offset = rng.randrange(0, SIZE // 512) * 512
        length = min(rng.randrange(1, 256) * 512, SIZE - offset)
        yield kind, offset, length, rng.randrange(1, 256)


def main() -> None:
    from pyvirt.block.open import open_image

    path, seed = sys.argv[1], int(sys.argv[2])
    image = open_image(path, discard=True)
    for index, (kind, offset, length, byte) in enumerate(operations(seed)):
        if kind == "write":
            image.writev(offset, [memoryview(bytes([byte]) * length)])
        elif kind == "zero":
            image.write_zeroes(offset, length, unmap=True)
        elif kind == "discard":
            image.discard(offset, length)
        else:
            image.flush()
            print(index, flush=True)


if __name__ == "__main__":
    main()
