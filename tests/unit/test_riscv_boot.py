"""The virt board's boot: ROM reset vector, image placement, device tree, test device."""

from __future__ import annotations

import asyncio
import concurrent.futures
import struct
import threading
from pathlib import Path

import pytest

from pyvirt.machine.host import HostResources
from pyvirt.machine.riscv import layout as L
from pyvirt.machine.riscv.boot_rom import FW_DYNAMIC_MAGIC, boot_rom
from pyvirt.machine.riscv.fdt import FDT_MAGIC
from pyvirt.machine.riscv.test_device import SifiveTest
from pyvirt.machine.riscv.virt import VirtConfig, VirtMachine
from pyvirt.machine.x86.loader import BootError

MiB = 1 << 20
POWER_OFF = struct.pack(
    "<5I",
    0x001002B7,  # lui t0, 0x100         (the test device)
    0x00005337,  # lui t1, 0x5
    0x55530313,  # addi t1, t1, 0x555    (0x5555: pass)
    0x0062A023,  # sw t1, 0(t0)
    0x0000006F,  # j .
)


class Events:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.done = threading.Event()

    def power_off(self) -> None:
        self.seen.append("poweroff")
        self.done.set()

    def reset(self) -> None:
        self.seen.append("reset")
        self.done.set()

    def debug_exit(self, status: int) -> None:
        self.seen.append(f"exit {status}")
        self.done.set()


@pytest.fixture
def host() -> HostResources:
    loop = asyncio.new_event_loop()
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        yield HostResources(loop, executor)
    loop.close()


def machine(host: HostResources, events: Events | None = None, **kw: object) -> VirtMachine:
    return VirtMachine(VirtConfig(**{"ram_size": 128 * MiB, **kw}), None, events or Events(), host)


def test_boot_rom_layout() -> None:
    rom = boot_rom(0x80000000, 0x87E00000, 0x80200000)
    start, fdt = struct.unpack_from("<QQ", rom, 24)
    info = struct.unpack_from("<6Q", rom, 40)
    assert (start, fdt) == (0x80000000, 0x87E00000)
    assert info == (FW_DYNAMIC_MAGIC, 2, 0x80200000, 1, 0, 0)


def test_reset_vector_hands_over_like_qemu(host: HostResources, tmp_path: Path) -> None:
    kernel = tmp_path / "Image"
    kernel.write_bytes(POWER_OFF)
    m = machine(host, bios="none", kernel=str(kernel), append="hello")
    try:
        hart = m.harts[0]
        hart.translator.max_block = 1
        for _ in range(6):
            hart.step()
        assert hart.pc == L.RAM  # -bios none: the kernel at the start of RAM, in M-mode
        fdt = 0x87E00000  # 2 MiB aligned, 1 MiB below the end of 128 MiB
        assert (hart.x[10], hart.x[11], hart.x[12]) == (0, fdt, L.BOOT_ROM + 40)
        assert struct.unpack_from(">I", m.mem.read(fdt, 4))[0] == FDT_MAGIC
        assert b"hello\0" in m.mem.read(fdt, 4096)
    finally:
        m.close()


def test_guest_powers_off_through_the_test_device(host: HostResources, tmp_path: Path) -> None:
    kernel = tmp_path / "Image"
    kernel.write_bytes(POWER_OFF)
    events = Events()
    m = machine(host, events, bios="none", kernel=str(kernel))
    stop = threading.Event()
    thread = threading.Thread(target=m.harts[0].run, args=(stop,))
    thread.start()
    try:
        assert events.done.wait(30)
    finally:
        stop.set()
        thread.join()
        m.close()
    assert events.seen == ["poweroff"]


def test_kernel_after_opensbi_and_initrd_placement(host: HostResources, tmp_path: Path) -> None:
    kernel, initrd = tmp_path / "Image", tmp_path / "initrd"
    kernel.write_bytes(POWER_OFF)
    initrd.write_bytes(b"cpio" * 1024)
    m = machine(host, ram_size=512 * MiB, kernel=str(kernel), initrd=str(initrd))
    try:
        start, fdt = struct.unpack_from("<QQ", m.mem.read(L.BOOT_ROM + 24, 16))
        next_addr = struct.unpack_from("<Q", m.mem.read(L.BOOT_ROM + 56, 8))[0]
        assert (start, next_addr) == (L.RAM, 0x80200000)  # OpenSBI, then the kernel
        assert m.mem.read(0x80200000, len(POWER_OFF)) == POWER_OFF
        assert m.mem.read(0x80200000 + 128 * MiB, 4) == b"cpio"  # 128 MiB after the kernel
        assert fdt == 0x9FE00000
    finally:
        m.close()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"bios": "/nonexistent"}, "could not load firmware '/nonexistent'"),
        ({"bios": "none"}, "-bios none needs -kernel"),
        ({"bios": "none", "kernel": "ELF-X86"}, "is not a RISC-V ELF file"),
        ({"bios": "none", "kernel": "BIG"}, "does not fit in RAM"),
    ],
)
def test_bad_images_are_refused_by_name(
    host: HostResources, tmp_path: Path, kw: dict[str, str], message: str
) -> None:
    elf = tmp_path / "x86.elf"
    elf.write_bytes(b"\x7fELF\x02\x01" + bytes(12) + struct.pack("<H", 62) + bytes(44))
    big = tmp_path / "big"
    big.write_bytes(bytes(9 * MiB))
    kw = {k: {"ELF-X86": str(elf), "BIG": str(big)}.get(v, v) for k, v in kw.items()}
    with pytest.raises(BootError, match=message):
        machine(host, ram_size=8 * MiB, **kw)


def test_test_device_codes() -> None:
    events = Events()
    dev = SifiveTest(events)
    dev.write(0, 4, 0x7777)
    dev.write(0, 4, (3 << 16) | 0x3333)
    dev.write(0, 2, 0x5555)  # as OpenSBI's writew
    dev.write(0, 4, 0x1234)  # anything else: ignored
    dev.write(0, 1, 0x55)
    dev.write(8, 4, 0x5555)
    assert events.seen == ["reset", "exit 3", "poweroff"]
