"""A minimal board for bare-metal test programs, with QEMU virt's addresses.

RAM at 0x80000000, the SiFive test device at 0x100000 (0x5555: pass,
code << 16 | 0x3333: fail), a write-only 16550 UART at 0x10000000 and a CLINT
at 0x2000000. An ELF runs from its entry in M-mode, as under
`qemu-system-riscv64 -machine virt -bios none -kernel test.elf`.

    python3 -m pyvirt.tcg.riscv.baremetal test.elf
"""

from __future__ import annotations

import struct
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pyvirt.tcg.riscv.bus import AccessFault
from pyvirt.tcg.riscv.hart import MIP_MSIP, MIP_MTIP, Hart

RAM_BASE = 0x80000000
TEST_DEVICE, UART, CLINT = 0x100000, 0x10000000, 0x2000000
MTIMECMP, MTIME = CLINT + 0x4000, CLINT + 0xBFF8
TIMEBASE_HZ = 10_000_000
UART_LSR_IDLE = 0x60  # transmitter empty


@dataclass
class Result:
    status: int | None  # the test device's exit code, None if it never wrote
    output: bytes  # what went out of the UART
    instret: int
    seconds: float


class BareMetalBoard:
    """RAM, UART, test device and CLINT, as a PhysBus."""

    def __init__(self, ram_size: int = 16 << 20) -> None:
        self.ram = memoryview(bytearray(ram_size))
        self.output = bytearray()
        self.status: int | None = None
        self.stop = threading.Event()
        self.start = time.monotonic()
        self.mtimecmp = (1 << 64) - 1
        self.hart: Hart | None = None
        self._timer: threading.Timer | None = None

    def ram_regions(self) -> list[tuple[int, memoryview]]:
        return [(RAM_BASE, self.ram)]

    def mtime(self) -> int:
        return int((time.monotonic() - self.start) * TIMEBASE_HZ)

    def mmio_read(self, addr: int, size: int) -> int:
        if UART <= addr < UART + 8:
            return UART_LSR_IDLE if addr == UART + 5 else 0
        if addr == MTIME:
            return self.mtime() & ((1 << (8 * size)) - 1)
        if addr == MTIMECMP:
            return self.mtimecmp & ((1 << (8 * size)) - 1)
        if CLINT <= addr < CLINT + 0x10000 or TEST_DEVICE <= addr < TEST_DEVICE + 0x1000:
            return 0
        raise AccessFault(addr)

    def mmio_write(self, addr: int, size: int, value: int) -> None:
        assert self.hart is not None
        if addr == UART:
            self.output.append(value & 0xFF)
        elif UART < addr < UART + 8:
            pass
        elif addr == TEST_DEVICE:
            kind = value & 0xFFFF
            if kind in (0x5555, 0x3333):
                self.status = 0 if kind == 0x5555 else value >> 16
                self.stop.set()
        elif addr == CLINT:
            self.hart.set_pending(MIP_MSIP, bool(value & 1))
        elif addr == MTIMECMP and size == 8:
            self.mtimecmp = value
            self._arm_timer()
        elif not CLINT <= addr < CLINT + 0x10000:
            raise AccessFault(addr)

    def _arm_timer(self) -> None:
        assert self.hart is not None
        if self._timer is not None:
            self._timer.cancel()
        delay = (self.mtimecmp - self.mtime()) / TIMEBASE_HZ
        self.hart.set_pending(MIP_MTIP, delay <= 0)
        if 0 < delay < 3600:
            self._timer = threading.Timer(delay, self._arm_timer)
            self._timer.daemon = True
            self._timer.start()

    def load_elf(self, image: bytes) -> int:
        """Copy the PT_LOAD segments into RAM; returns the entry point."""
        if image[:4] != b"\x7fELF" or image[4] != 2:
            raise ValueError("not an ELF64 file")
        entry, phoff = struct.unpack_from("<QQ", image, 24)
        phentsize, phnum = struct.unpack_from("<HH", image, 54)
        for i in range(phnum):
            kind, _, offset, _, paddr, filesz, memsz = struct.unpack_from(
                "<IIQQQQQ", image, phoff + i * phentsize
            )
            if kind != 1 or not memsz:
                continue
            start = paddr - RAM_BASE
            if start < 0 or start + memsz > len(self.ram):
                raise ValueError(f"segment at {paddr:#x} is outside RAM")
            self.ram[start : start + filesz] = image[offset : offset + filesz]
        return entry


def run_elf(path: Path, *, timeout: float = 60.0, max_block: int = 64) -> Result:
    """Run a bare-metal ELF until it writes the test device (or `timeout` seconds)."""
    board = BareMetalBoard()
    hart = Hart(0, board, mtime=board.mtime, max_block=max_block)
    board.hart = hart
    hart.reset(board.load_elf(path.read_bytes()))
    watchdog = threading.Timer(timeout, board.stop.set)
    watchdog.daemon = True
    watchdog.start()
    start = time.perf_counter()
    try:
        hart.run(board.stop)
    finally:
        watchdog.cancel()
    seconds = time.perf_counter() - start
    return Result(board.status, bytes(board.output), hart.instret, seconds)


def main() -> int:
    result = run_elf(Path(sys.argv[1]))
    sys.stdout.write(result.output.decode(errors="replace"))
    mips = result.instret / result.seconds / 1e6
    print(f"\n[{result.instret} instructions in {result.seconds:.2f} s: {mips:.2f} MIPS]")
    return 1 if result.status is None else result.status


if __name__ == "__main__":
    sys.exit(main())
