"""Linux bzImage through the x86 boot protocol (Documentation/arch/x86/boot.rst).

The protected-mode kernel goes to 1 MiB and is entered directly: at its 64-bit
entry (load address + 0x200, long mode, identity paging) when the kernel says
it has one (XLF_KERNEL_64), otherwise at its 32-bit entry (flat protected
mode). Either way RSI/ESI points at the zero page we fill in.
"""

from __future__ import annotations

import struct

from . import layout as L
from .e820 import E820Entry
from .entry import CpuMode, EntryState
from .loader import BootError, BootInput, check_fits, place_high, write_cmdline

HDRS_MAGIC = 0x53726448  # "HdrS"
BOOT_FLAG = 0xAA55

# Offsets inside the zero page (struct boot_params) and the image's setup header.
ACPI_RSDP_ADDR = 0x070
E820_ENTRIES = 0x1E8
SETUP_SECTS = 0x1F1
BOOT_FLAG_OFF = 0x1FE
JUMP = 0x200
HEADER = 0x202
VERSION = 0x206
TYPE_OF_LOADER = 0x210
LOADFLAGS = 0x211
CODE32_START = 0x214
RAMDISK_IMAGE = 0x218
RAMDISK_SIZE = 0x21C
HEAP_END_PTR = 0x224
CMD_LINE_PTR = 0x228
INITRD_ADDR_MAX = 0x22C
XLOADFLAGS = 0x236
CMDLINE_SIZE = 0x238
PREF_ADDRESS = 0x258
INIT_SIZE = 0x260
E820_TABLE = 0x2D0
E820_MAX = 128
ZERO_PAGE_SIZE = 0x1000

LOADED_HIGH = 0x01
CAN_USE_HEAP = 0x80
XLF_KERNEL_64 = 0x01
LOADER_UNDEFINED = 0xFF

DEFAULT_INITRD_ADDR_MAX = 0x37FFFFFF


def is_bzimage(data: bytes) -> bool:
    return len(data) >= HEADER + 4 and struct.unpack_from("<I", data, HEADER)[0] == HDRS_MAGIC


def _u(data: bytes | bytearray, offset: int, fmt: str) -> int:
    return struct.unpack_from("<" + fmt, data, offset)[0]


def load(inp: BootInput) -> EntryState:
    image = inp.kernel
    name = inp.kernel_path
    if len(image) < 0x270 or not is_bzimage(image):
        raise BootError(f"{name}: not a Linux bzImage (no HdrS setup header)")
    version = _u(image, VERSION, "H")
    proto = f"{version >> 8}.{version & 0xFF:02d}"
    if version < 0x0206:
        raise BootError(f"{name}: boot protocol {proto} is too old (need 2.06 or later)")
    if not image[LOADFLAGS] & LOADED_HIGH:
        raise BootError(f"{name}: zImage kernels (loaded below 1 MiB) are not supported")

    setup_sects = image[SETUP_SECTS] or 4
    kernel_offset = (setup_sects + 1) * 512
    if kernel_offset >= len(image):
        raise BootError(f"{name}: truncated: setup claims {setup_sects} sectors")
    kernel = image[kernel_offset:]
    check_fits(inp, f"{name}: kernel", L.HIMEM_START, len(kernel))
    _check_init_size(inp, image, version)
    inp.mem.write(L.HIMEM_START, kernel)

    zero_page = bytearray(ZERO_PAGE_SIZE)
    header_end = min(JUMP + 2 + image[JUMP + 1], ZERO_PAGE_SIZE)
    zero_page[SETUP_SECTS:header_end] = image[SETUP_SECTS:header_end]
    zero_page[TYPE_OF_LOADER] = LOADER_UNDEFINED
    zero_page[LOADFLAGS] = (zero_page[LOADFLAGS] | CAN_USE_HEAP) & 0xFF
    struct.pack_into("<H", zero_page, HEAP_END_PTR, 0xFE00)
    struct.pack_into("<I", zero_page, CODE32_START, L.HIMEM_START)

    cmdline_limit = min(_u(image, CMDLINE_SIZE, "I") + 1, L.CMDLINE_MAX)
    struct.pack_into("<I", zero_page, CMD_LINE_PTR, write_cmdline(inp, inp.cmdline, cmdline_limit))

    if inp.initrd is not None:
        limit = _u(image, INITRD_ADDR_MAX, "I") or DEFAULT_INITRD_ADDR_MAX
        floor = max(L.HIMEM_START + len(kernel), _decompression_end(image, version))
        addr = place_high(inp, len(inp.initrd), limit, f"initrd {inp.initrd_path}", floor)
        inp.mem.write(addr, inp.initrd)
        struct.pack_into("<II", zero_page, RAMDISK_IMAGE, addr, len(inp.initrd))

    _write_e820(zero_page, inp.e820)
    if inp.rsdp_addr is not None and version >= 0x020E:
        struct.pack_into("<Q", zero_page, ACPI_RSDP_ADDR, inp.rsdp_addr)
    inp.mem.write(L.BOOT_PARAMS_ADDR, zero_page)

    if version >= 0x020C and _u(image, XLOADFLAGS, "H") & XLF_KERNEL_64:
        return EntryState(
            CpuMode.LONG64,
            L.HIMEM_START + 0x200,
            {"rsi": L.BOOT_PARAMS_ADDR},
            f"bzImage (boot protocol {proto}), 64-bit entry",
        )
    return EntryState(
        CpuMode.PROTECTED32,
        L.HIMEM_START,
        {"rsi": L.BOOT_PARAMS_ADDR},
        f"bzImage (boot protocol {proto}), 32-bit entry",
    )


def _decompression_end(image: bytes, version: int) -> int:
    """End of the area the kernel decompresses into: keep the initrd out of it."""
    if version < 0x020A:
        return 0
    return max(_u(image, PREF_ADDRESS, "Q"), L.HIMEM_START) + _u(image, INIT_SIZE, "I")


def _check_init_size(inp: BootInput, image: bytes, version: int) -> None:
    """A relocatable kernel decompresses itself at pref_address: that must be RAM."""
    if version < 0x020A:
        return
    need, init_size = _decompression_end(image, version), _u(image, INIT_SIZE, "I")
    if init_size and not inp.mem.contains(L.HIMEM_START, need - L.HIMEM_START):
        raise BootError(
            f"{inp.kernel_path}: the kernel needs {need >> 20} MiB of RAM to decompress; "
            "increase -m"
        )


def _write_e820(zero_page: bytearray, entries: list[E820Entry]) -> None:
    if len(entries) > E820_MAX:
        raise BootError(f"too many e820 entries ({len(entries)})")
    zero_page[E820_ENTRIES] = len(entries)
    for i, e in enumerate(entries):
        struct.pack_into("<QQI", zero_page, E820_TABLE + 20 * i, e.addr, e.size, e.type)
