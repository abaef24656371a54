"""Linux bzImage loading per Documentation/arch/x86/boot.rst: the zero page we hand
the kernel at BOOT_PARAMS_ADDR, where the pieces go, and the refusals."""

from __future__ import annotations

import struct

import pytest

from pyvirt.machine.x86 import bzimage
from pyvirt.machine.x86.e820 import E820Type
from pyvirt.machine.x86.entry import CpuMode
from pyvirt.machine.x86.layout import BOOT_PARAMS_ADDR, HIMEM_START
from pyvirt.machine.x86.loader import BootError
from tests.unit.x86_images import MiB, SetupHeader, boot_input, build_bzimage, c_string

PAYLOAD = bytes(range(256)) * 64  # 16 KiB of "protected-mode kernel"


def zero_page(inp) -> bytes:
    return inp.mem.read(BOOT_PARAMS_ADDR, 4096)


def u(page: bytes, offset: int, fmt: str) -> int:
    return struct.unpack_from("<" + fmt, page, offset)[0]


def load(header: SetupHeader | None = None, **kw):
    inp = boot_input(build_bzimage(PAYLOAD, header), **kw)
    return inp, bzimage.load(inp)


def test_kernel_goes_to_1mib() -> None:
    inp, _ = load()
    assert inp.mem.read(HIMEM_START, len(PAYLOAD)) == PAYLOAD


def test_setup_header_is_copied_into_the_zero_page() -> None:
    image = build_bzimage(PAYLOAD)
    inp = boot_input(image)
    bzimage.load(inp)
    page = zero_page(inp)
    assert page[0x202:0x206] == b"HdrS"
    assert u(page, 0x206, "H") == 0x020F
    assert u(page, 0x1FE, "H") == 0xAA55
    assert page[0x258:0x264] == image[0x258:0x264]  # pref_address, init_size
    # below the header, only what we fill in (acpi_rsdp_addr, e820_entries) is non-zero
    assert page[:0x70] == bytes(0x70)
    assert page[0x78:0x1E8] == bytes(0x1E8 - 0x78)
    assert page[0x1E9:0x1F1] == bytes(8)


def test_loader_fields() -> None:
    inp, _ = load()
    page = zero_page(inp)
    assert page[0x210] == 0xFF  # type_of_loader: "undefined" (no assigned id)
    assert u(page, 0x214, "I") == HIMEM_START  # code32_start
    assert page[0x211] & 0x01  # LOADED_HIGH stays


def test_e820_table() -> None:
    inp, _ = load(ram=256 * MiB)
    page = zero_page(inp)
    count = page[0x1E8]
    assert count == len(inp.e820) > 0
    table = [struct.unpack_from("<QQI", page, 0x2D0 + 20 * i) for i in range(count)]
    assert table == [(e.addr, e.size, int(e.type)) for e in inp.e820]
    assert (0x100000, 255 * MiB, E820Type.RAM) in table
    assert page[0x2D0 + 20 * count : 0x2D0 + 20 * count + 20] == bytes(20)


def test_command_line() -> None:
    inp, _ = load(cmdline="console=ttyS0 root=/dev/vda rw")
    ptr = u(zero_page(inp), 0x228, "I")
    assert 0 < ptr < 0xA0000  # below the EBDA, where any kernel can reach it
    assert c_string(inp.mem, ptr) == b"console=ttyS0 root=/dev/vda rw"


def test_empty_command_line_is_still_a_string() -> None:
    inp, _ = load()
    assert c_string(inp.mem, u(zero_page(inp), 0x228, "I")) == b""


def test_command_line_of_exactly_cmdline_size() -> None:
    inp, _ = load(SetupHeader(cmdline_size=100), cmdline="x" * 100)
    assert c_string(inp.mem, u(zero_page(inp), 0x228, "I")) == b"x" * 100


def test_command_line_longer_than_cmdline_size() -> None:
    with pytest.raises(BootError, match=r"command line is too long \(101 bytes, at most 100\)"):
        load(SetupHeader(cmdline_size=100), cmdline="x" * 101)


def test_initrd_below_initrd_addr_max() -> None:
    initrd = b"070701" + bytes(range(256)) * 20
    inp, _ = load(SetupHeader(initrd_addr_max=0x37FFFFFF), ram=2048 * MiB, initrd=initrd)
    page = zero_page(inp)
    addr, size = u(page, 0x218, "I"), u(page, 0x21C, "I")
    assert size == len(initrd)
    assert addr % 4096 == 0
    assert addr + size - 1 <= 0x37FFFFFF  # initrd_addr_max is the highest byte it may use
    assert addr >= HIMEM_START + len(PAYLOAD)
    assert addr > 0x37FFFFFF - 2 * MiB  # placed high, as boot loaders do
    assert inp.mem.read(addr, size) == initrd


def test_initrd_at_the_top_of_small_ram() -> None:
    initrd = b"\xab" * 5000
    inp, _ = load(ram=32 * MiB, initrd=initrd)
    addr = u(zero_page(inp), 0x218, "I")
    assert addr + len(initrd) <= 32 * MiB
    assert addr > 32 * MiB - 3 * 4096
    assert inp.mem.read(addr, len(initrd)) == initrd


def test_initrd_that_does_not_fit() -> None:
    with pytest.raises(
        BootError, match=r"initrd /boot/initrd \(8388608 bytes\) does not fit in guest RAM"
    ):
        load(ram=8 * MiB, initrd=bytes(8 * MiB))


def test_no_initrd_leaves_the_fields_zero() -> None:
    inp, _ = load()
    assert u(zero_page(inp), 0x218, "Q") == 0


@pytest.mark.parametrize(("version", "expected"), [(0x020E, 0xE0000), (0x020D, 0)])
def test_acpi_rsdp_addr_from_protocol_2_14(version: int, expected: int) -> None:
    inp, _ = load(SetupHeader(version=version), rsdp=0xE0000)
    assert u(zero_page(inp), 0x070, "Q") == expected


def test_64_bit_entry_with_xlf_kernel_64() -> None:
    _, entry = load(SetupHeader(xloadflags=0x01))
    assert entry.mode is CpuMode.LONG64
    assert entry.rip == HIMEM_START + 0x200
    assert entry.regs == {"rsi": BOOT_PARAMS_ADDR}


def test_32_bit_entry_without_xlf_kernel_64() -> None:
    _, entry = load(SetupHeader(xloadflags=0x00))
    assert entry.mode is CpuMode.PROTECTED32
    assert entry.rip == HIMEM_START
    assert entry.regs == {"rsi": BOOT_PARAMS_ADDR}


def test_xloadflags_ignored_before_protocol_2_12() -> None:
    # 0x236 was padding before 2.12: whatever is there does not make a 64-bit kernel.
    _, entry = load(SetupHeader(version=0x020A, xloadflags=0x01))
    assert entry.mode is CpuMode.PROTECTED32


def test_setup_sects_zero_means_four() -> None:
    image = build_bzimage(PAYLOAD, SetupHeader(setup_sects=4))
    image = image[:0x1F1] + b"\0" + image[0x1F2:]
    inp = boot_input(image)
    bzimage.load(inp)
    assert inp.mem.read(HIMEM_START, len(PAYLOAD)) == PAYLOAD


def test_too_old_protocol() -> None:
    with pytest.raises(BootError, match=r"boot protocol 2\.05 is too old \(need 2\.06 or later\)"):
        load(SetupHeader(version=0x0205))


def test_zimage_is_refused() -> None:
    with pytest.raises(BootError, match=r"zImage kernels \(loaded below 1 MiB\) are not supported"):
        load(SetupHeader(loadflags=0x00))


def test_not_a_bzimage() -> None:
    inp = boot_input(b"\x7fELF" + bytes(0x400))
    with pytest.raises(BootError, match="not a Linux bzImage"):
        bzimage.load(inp)
    assert not bzimage.is_bzimage(b"HdrS")
    assert bzimage.is_bzimage(build_bzimage(b""))


def test_truncated_setup() -> None:
    image = build_bzimage(b"", SetupHeader(setup_sects=30))[:0x400]
    with pytest.raises(BootError, match="truncated: setup claims 30 sectors"):
        bzimage.load(boot_input(image))


def test_kernel_larger_than_ram() -> None:
    inp = boot_input(build_bzimage(bytes(9 * MiB)), ram=8 * MiB)
    with pytest.raises(BootError, match="does not fit in guest RAM: increase -m"):
        bzimage.load(inp)


def test_decompression_area_beyond_ram() -> None:
    header = SetupHeader(pref_address=16 * MiB, init_size=24 * MiB)
    with pytest.raises(BootError, match="needs 40 MiB of RAM to decompress; increase -m"):
        load(header, ram=32 * MiB)
    load(header, ram=40 * MiB)  # just enough
