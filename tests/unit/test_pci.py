"""PCI configuration space, BARs, capabilities, INTx, bus 0 and the two config mechanisms."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyvirt.hw.pci import (
    INTX_PIN_A,
    Bar,
    BarKind,
    ConfigAddress,
    ConfigData,
    Ecam,
    HostBridge,
    PciDevice,
    PciError,
)
from pyvirt.hw.pci import registers as R
from pyvirt.hw.reset_control import ResetControl

from .pci_fakes import IO, MEM32, MEM64, Platform, Region


class Recording(PciDevice):
    """A device with one BAR of each kind and INTA; records bar_moved calls."""

    def __init__(self, pin: int = INTX_PIN_A) -> None:
        super().__init__(
            vendor_id=0x1234,
            device_id=0x5678,
            class_code=0x020000,
            revision=3,
            subsystem_vendor_id=0xAAAA,
            subsystem_id=0xBBBB,
            interrupt_pin=pin,
            name="recording",
        )
        self.mem = Region(0x11)
        self.mem64 = Region(0x22)
        self.io = Region(0x33)
        self.add_bar(0, 0x1000, self.mem)
        self.add_bar(2, 0x4000, self.mem64, BarKind.MEM64, prefetchable=True)
        self.add_bar(5, 0x20, self.io, BarKind.IO)
        self.moves: list[tuple[int, int | None, int | None]] = []

    def bar_moved(self, bar: Bar, old: int | None) -> None:
        self.moves.append((bar.index, old, bar.address))


@pytest.fixture
def platform() -> Platform:
    return Platform()


@pytest.fixture
def dev(platform: Platform) -> Recording:
    device = Recording()
    platform.pci.add(device, slot=3)
    return device


# --- the header ---------------------------------------------------------------------------------


def test_identity_registers(platform: Platform, dev: Recording) -> None:
    read = lambda off, size: platform.cfg_read(dev, off, size)  # noqa: E731
    assert read(R.VENDOR_ID, 4) == 0x56781234
    assert read(R.REVISION_ID, 4) == 0x02000003  # revision, prog-if, subclass, class
    assert read(R.HEADER_TYPE, 1) == 0
    assert read(R.SUBSYSTEM_VENDOR_ID, 4) == 0xBBBBAAAA
    assert read(R.INTERRUPT_PIN, 1) == 1
    assert read(R.INTERRUPT_LINE, 1) == 16 + (3 + 0) % 8  # slot 3, INTA
    assert read(R.ROM_ADDRESS, 4) == 0  # no expansion ROM: not even sizable
    platform.cfg_write(dev, R.ROM_ADDRESS, 4, 0xFFFFFFFF)
    assert read(R.ROM_ADDRESS, 4) == 0


def test_read_only_registers_ignore_writes(platform: Platform, dev: Recording) -> None:
    before = bytes(dev.config)
    for offset in (R.VENDOR_ID, R.DEVICE_ID, R.REVISION_ID, R.HEADER_TYPE, R.SUBSYSTEM_ID,
                   R.CAPABILITY_LIST, R.INTERRUPT_PIN):  # fmt: skip
        platform.cfg_write(dev, offset, 1, 0xA5)
    assert bytes(dev.config) == before


def test_any_access_size_sees_the_same_bytes(platform: Platform, dev: Recording) -> None:
    whole = platform.cfg_read(dev, 0, 4)
    assert [platform.cfg_read(dev, i, 1) for i in range(4)] == list(whole.to_bytes(4, "little"))
    assert platform.cfg_read(dev, 2, 2) == whole >> 16
    assert platform.cfg_read(dev, 0x100, 4) == 0xFFFFFFFF  # beyond conventional config space
    assert platform.cfg_read(dev, 0xFE, 4) == 0xFFFF0000 | platform.cfg_read(dev, 0xFE, 2)


def test_status_error_bits_are_write_one_to_clear(platform: Platform, dev: Recording) -> None:
    dev.config[R.STATUS + 1] |= 0x80  # the device detected a parity error
    platform.cfg_write(dev, R.STATUS, 2, 0x0010)  # writes of 0 to it leave it
    assert platform.cfg_read(dev, R.STATUS, 2) & 0x8000
    platform.cfg_write(dev, R.STATUS, 2, 0xFFFF)
    assert platform.cfg_read(dev, R.STATUS, 2) == 0  # no capabilities, all errors cleared


def test_command_writable_bits(platform: Platform, dev: Recording) -> None:
    platform.cfg_write(dev, R.COMMAND, 2, 0xFFFF)
    assert platform.cfg_read(dev, R.COMMAND, 2) == 0x0547


# --- BARs ----------------------------------------------------------------------------------------


def test_bar_sizing_32_64_and_io(platform: Platform, dev: Recording) -> None:
    for offset in range(R.BAR0, R.BAR0 + 24, 4):
        platform.cfg_write(dev, offset, 4, 0xFFFFFFFF)
    bars = struct.unpack("<6I", dev.config[R.BAR0 : R.BAR0 + 24])
    assert bars[0] == 0xFFFFF000  # 4 KiB, 32-bit, not prefetchable
    assert bars[1] == 0  # unused
    assert bars[2] == 0xFFFFC00C  # 16 KiB, 64-bit (0b100), prefetchable (0b1000)
    assert bars[3] == 0xFFFFFFFF  # its high half
    assert bars[4] == 0
    assert bars[5] == 0xFFFFFFE1  # 32 ports, I/O space
    # Sizing values never decode (they reach the top of their space).
    assert [b.address for b in dev.bars if b is not None] == [None, None, None]


def test_bars_are_assigned_in_their_windows(dev: Recording) -> None:
    mem, mem64, io = dev.bars[0], dev.bars[2], dev.bars[5]
    assert mem is not None and mem64 is not None and io is not None
    for bar, window in ((mem, MEM32), (mem64, MEM64), (io, IO)):
        assert bar.address is not None
        assert window.start <= bar.address < window.end
        assert bar.address % bar.size == 0
        assert dev.bar_value(bar) == bar.address | bar.flags
    assert dev.command & (R.COMMAND_MEMORY | R.COMMAND_IO) == R.COMMAND_MEMORY | R.COMMAND_IO


def test_without_a_64_bit_window_64_bit_bars_go_below_4g() -> None:
    platform = Platform(mem64=False)
    dev = Recording()
    platform.pci.add(dev)
    assert dev.bars[2] is not None and dev.bars[2].address is not None
    assert dev.bars[2].address < 1 << 32


def test_bar_regions_decode_on_the_buses(platform: Platform, dev: Recording) -> None:
    mem, io = dev.bars[0], dev.bars[5]
    assert mem is not None and io is not None and mem.address and io.address
    assert platform.mmio.read(mem.address + 0x10, 4) == 0x11
    platform.pio.write(io.address + 2, 1, 0x99)
    assert dev.mem.reads == [(0x10, 4)]
    assert dev.io.writes == [(2, 1, 0x99)]


def test_command_register_turns_decoding_off_and_on(platform: Platform, dev: Recording) -> None:
    mem, io = dev.bars[0], dev.bars[5]
    assert mem is not None and io is not None and mem.address and io.address
    addr, port = mem.address, io.address
    platform.cfg_write(dev, R.COMMAND, 2, R.COMMAND_IO)  # memory off
    assert platform.mmio.read(addr, 4) == 0xFFFFFFFF
    assert platform.pio.read(port, 1) == 0x33
    assert (0, addr, None) in dev.moves
    platform.cfg_write(dev, R.COMMAND, 2, R.COMMAND_MEMORY)  # I/O off, memory back
    assert platform.mmio.read(addr, 4) == 0x11
    assert platform.pio.read(port, 1) == 0xFF
    assert (0, None, addr) in dev.moves and dev.moves[-1] == (5, port, None)


def test_reprogramming_a_bar_moves_it(platform: Platform, dev: Recording) -> None:
    mem64 = dev.bars[2]
    assert mem64 is not None and mem64.address is not None
    old = mem64.address
    new = 0x3_0000_4000
    platform.cfg_write(dev, R.bar_offset(2), 4, new & 0xFFFFFFFF)
    platform.cfg_write(dev, R.bar_offset(3), 4, new >> 32)
    assert mem64.address == new
    halfway = (old & ~0xFFFFFFFF) | 0x4000  # after the low half, before the high one
    assert dev.moves[-2:] == [(2, old, halfway), (2, halfway, new)]
    assert platform.mmio.read(old, 4) == 0xFFFFFFFF
    assert platform.mmio.read(new + 8, 4) == 0x22
    assert dev.mem64.reads == [(8, 4)]


def test_a_bar_over_another_device_does_not_decode(platform: Platform, dev: Recording) -> None:
    other = Recording()
    platform.pci.add(other)
    mine, theirs = dev.bars[0], other.bars[0]
    assert mine is not None and theirs is not None and theirs.address
    platform.cfg_write(dev, R.bar_offset(0), 4, theirs.address)  # hostile: an overlap
    assert mine.address is None
    assert platform.mmio.read(theirs.address, 4) == 0x11
    assert other.mem.reads == [(0, 4)] and dev.mem.reads == []
    platform.cfg_write(dev, R.bar_offset(0), 4, 0xD000_0000)  # somewhere free again
    assert mine.address == 0xD000_0000


def test_a_bar_at_zero_or_the_top_does_not_decode(platform: Platform, dev: Recording) -> None:
    io = dev.bars[5]
    assert io is not None
    platform.cfg_write(dev, R.bar_offset(5), 4, 0)
    assert io.address is None
    platform.cfg_write(dev, R.bar_offset(5), 4, 0xFFE0)  # reaches 0x10000
    assert io.address is None
    platform.cfg_write(dev, R.bar_offset(5), 4, 0x3F8)  # COM1's ports: nobody else there here
    assert io.address == 0x3E0


def test_bar_declarations_are_checked() -> None:
    dev = Recording()
    with pytest.raises(ValueError, match="taken"):
        dev.add_bar(3, 0x1000, Region())  # the high half of BAR2
    with pytest.raises(ValueError, match="power of two"):
        dev.add_bar(1, 0x1800, Region())
    with pytest.raises(ValueError, match="cannot hold"):
        dev.add_bar(5, 0x1000, Region(), BarKind.MEM64)
    with pytest.raises(ValueError, match="power of two"):
        dev.add_bar(1, 0x200, Region(), BarKind.IO)  # I/O BARs stop at 256 ports


# --- capabilities ---------------------------------------------------------------------------------


def test_capability_chain() -> None:
    platform = Platform()
    dev = Recording()
    first = dev.add_capability(0x09, b"\x05abc")
    second = dev.add_capability(0x11, bytes(10), writable=b"\xff" + bytes(9))
    third = dev.add_capability(0x09, b"\x03")
    platform.pci.add(dev)
    assert platform.cfg_read(dev, R.STATUS, 2) & R.STATUS_CAP_LIST
    assert platform.cfg_read(dev, R.CAPABILITY_LIST, 1) == first == 0x40
    assert second == 0x48 and third == 0x54  # dword aligned
    chain, pos = [], platform.cfg_read(dev, R.CAPABILITY_LIST, 1)
    while pos:
        chain.append((pos, platform.cfg_read(dev, pos, 1)))
        pos = platform.cfg_read(dev, pos + 1, 1)
    assert chain == [(0x40, 0x09), (0x48, 0x11), (0x54, 0x09)] == dev.capabilities()
    assert platform.cfg_read(dev, first + 2, 4) == int.from_bytes(b"\x05abc", "little")
    platform.cfg_write(dev, second + 2, 4, 0xFFFFFFFF)
    assert platform.cfg_read(dev, second + 2, 4) == 0xFF  # only its writable byte
    platform.cfg_write(dev, first + 1, 1, 0)  # the next pointer is read-only
    assert dev.capabilities() == chain


def test_capabilities_must_fit() -> None:
    dev = Recording()
    with pytest.raises(ValueError, match="no room"):
        for _ in range(100):
            dev.add_capability(0x09, bytes(30))


# --- INTx ---------------------------------------------------------------------------------------


def test_intx_honours_interrupt_disable(platform: Platform, dev: Recording) -> None:
    gsi = 16 + 3
    dev.set_intx(True)
    assert platform.lines.levels[gsi] is True
    assert platform.cfg_read(dev, R.STATUS, 2) & R.STATUS_INTERRUPT
    command = platform.cfg_read(dev, R.COMMAND, 2)
    platform.cfg_write(dev, R.COMMAND, 2, command | R.COMMAND_INTX_DISABLE)
    assert platform.lines.levels[gsi] is False
    assert platform.cfg_read(dev, R.STATUS, 2) & R.STATUS_INTERRUPT  # still pending inside
    dev.set_intx(True)  # no change while disabled
    assert platform.lines.levels[gsi] is False
    platform.cfg_write(dev, R.COMMAND, 2, command)
    assert platform.lines.levels[gsi] is True
    dev.set_intx(False)
    assert platform.lines.levels[gsi] is False
    assert not platform.cfg_read(dev, R.STATUS, 2) & R.STATUS_INTERRUPT
    changes = platform.lines.changes
    dev.set_intx(False)
    assert platform.lines.changes == changes  # only transitions reach the line


def test_no_pin_no_line(platform: Platform) -> None:
    dev = Recording(pin=0)
    platform.pci.add(dev)
    dev.set_intx(True)
    assert platform.lines.levels == {}
    assert platform.cfg_read(dev, R.INTERRUPT_LINE, 1) == 0


# --- the bus -----------------------------------------------------------------------------------


def test_slots(platform: Platform) -> None:
    a, b = Recording(), Recording()
    assert platform.pci.add(a) == 0
    assert platform.pci.add(b, slot=7) == 7
    assert platform.pci.add(Recording()) == 1
    with pytest.raises(PciError, match="slot 7 is already taken by recording"):
        platform.pci.add(Recording(), slot=7)
    with pytest.raises(PciError, match="slot 32 does not exist"):
        platform.pci.add(Recording(), slot=32)
    with pytest.raises(PciError, match="already on a PCI bus"):
        platform.pci.add(a, slot=9)
    assert platform.pci.config_read(0, 2, 0, 0, 4) == 0xFFFFFFFF  # empty slot
    assert platform.pci.config_read(0, 0, 1, 0, 4) == 0xFFFFFFFF  # no function 1
    assert platform.pci.config_read(1, 0, 0, 0, 2) == 0xFFFF  # no bus 1


def test_a_full_bus_and_full_windows_are_errors(platform: Platform) -> None:
    for _ in range(32):
        platform.pci.add(PciDevice(vendor_id=1, device_id=2, class_code=0))
    with pytest.raises(PciError, match="no free PCI slot"):
        platform.pci.add(PciDevice(vendor_id=1, device_id=2, class_code=0))
    small = Platform()
    big = PciDevice(vendor_id=1, device_id=2, class_code=0, name="big")
    big.add_bar(0, MEM32.size, Region())
    small.pci.add(big)
    late = PciDevice(vendor_id=1, device_id=2, class_code=0, name="late")
    late.add_bar(0, 0x1000, Region())
    with pytest.raises(PciError, match="no room in the PCI windows for late"):
        small.pci.add(late)


def test_close_unmaps_everything(platform: Platform, dev: Recording) -> None:
    mem = dev.bars[0]
    assert mem is not None and mem.address
    addr = mem.address
    dev.set_intx(True)
    changes = platform.lines.changes
    platform.pci.close()
    assert platform.mmio.read(addr, 4) == 0xFFFFFFFF
    assert platform.pci.devices() == []
    assert platform.lines.changes == changes  # the interrupt controller is not touched


# --- configuration mechanisms ------------------------------------------------------------------


@pytest.fixture
def host(platform: Platform) -> tuple[Platform, ConfigAddress]:
    platform.pci.add(HostBridge(), slot=0)
    address = ConfigAddress()
    platform.pio.register(0xCF8, 1, address, "pci-config-address")
    platform.pio.register(0xCFC, 4, ConfigData(platform.pci, address), "pci-config-data")
    platform.mmio.register(0xE0000000, 0x10000000, Ecam(platform.pci), "pci-ecam")
    return platform, address


def cf8(bus: int, slot: int, function: int, register: int) -> int:
    return 1 << 31 | bus << 16 | slot << 11 | function << 8 | register & 0xFC


def test_mechanism_1_reaches_the_host_bridge(host: tuple[Platform, ConfigAddress]) -> None:
    platform, _ = host
    pio = platform.pio
    pio.write(0xCF8, 4, cf8(0, 0, 0, 0))
    assert pio.read(0xCF8, 4) == cf8(0, 0, 0, 0)
    assert pio.read(0xCFC, 4) == 0x00081B36
    assert pio.read(0xCFE, 2) == 0x0008
    assert pio.read(0xCFD, 1) == 0x1B
    pio.write(0xCF8, 4, cf8(0, 0, 0, 0x08))
    assert pio.read(0xCFC, 4) >> 8 == 0x060000  # class: host bridge
    pio.write(0xCF8, 4, cf8(0, 0, 0, 0) & ~(1 << 31))  # enable bit clear
    assert pio.read(0xCFC, 4) == 0xFFFFFFFF


def test_only_dword_accesses_reach_the_address_register(
    host: tuple[Platform, ConfigAddress],
) -> None:
    platform, address = host
    platform.pio.write(0xCF8, 4, cf8(0, 0, 0, 0))
    platform.pio.write(0xCF8, 1, 0x55)
    platform.pio.write(0xCF8, 2, 0x5555)
    assert address.value == cf8(0, 0, 0, 0)
    assert platform.pio.read(0xCF8, 1) == 0xFF


def test_port_0xcf9_stays_the_reset_register(host: tuple[Platform, ConfigAddress]) -> None:
    platform, address = host
    resets = []
    platform.pio.register(0xCF9, 1, ResetControl(lambda: resets.append(1)), "reset")
    platform.pio.write(0xCF8, 4, cf8(0, 0, 0, 0))
    platform.pio.write(0xCF9, 1, 0x02)
    assert resets == [] and platform.pio.read(0xCF9, 1) == 0x02
    assert address.value == cf8(0, 0, 0, 0)
    assert platform.pio.read(0xCFC, 4) == 0x00081B36  # config access still works
    platform.pio.write(0xCF9, 1, 0x06)
    assert resets == [1]


def test_ecam_and_mechanism_1_give_the_same_bytes(
    host: tuple[Platform, ConfigAddress], dev: Recording
) -> None:
    platform, _ = host
    for slot in (0, 3):
        for offset in range(0, 256, 4):
            platform.pio.write(0xCF8, 4, cf8(0, slot, 0, offset))
            ecam = 0xE0000000 | slot << 15 | offset
            for size, sub in ((4, 0), (2, 0), (2, 2), (1, 1), (1, 3)):
                via_ports = platform.pio.read(0xCFC + sub, size)
                assert platform.mmio.read(ecam + sub, size) == via_ports, (slot, offset, sub)
    base = 0xE0000000 | 3 << 15
    assert platform.mmio.read(base, 8) == platform.mmio.read(base + 4, 4) << 32 | 0x56781234
    assert platform.mmio.read(base + 0x100, 4) == 0xFFFFFFFF  # extended space: nothing
    assert platform.mmio.read(0xE0000000 | 1 << 20, 4) == 0xFFFFFFFF  # bus 1
    assert platform.mmio.read(0xE0000000 | 3 << 15 | 1 << 12, 4) == 0xFFFFFFFF  # function 1


def test_writes_through_either_mechanism(
    host: tuple[Platform, ConfigAddress], dev: Recording
) -> None:
    platform, _ = host
    platform.pio.write(0xCF8, 4, cf8(0, 3, 0, R.INTERRUPT_LINE))
    platform.pio.write(0xCFC, 1, 0x0B)
    assert dev.config[R.INTERRUPT_LINE] == 0x0B
    platform.mmio.write(0xE0000000 | 3 << 15 | R.CACHE_LINE_SIZE, 1, 0x10)
    assert dev.config[R.CACHE_LINE_SIZE] == 0x10


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["cfg", "ecam", "mmio", "pio"]),
            st.integers(0, 0x1100),
            st.sampled_from([1, 2, 4, 8]),
            st.integers(0, (1 << 64) - 1),
        ),
        max_size=60,
    )
)
def test_hostile_config_writes_never_break_the_buses(ops: list[tuple[str, int, int, int]]) -> None:
    platform = Platform()
    dev = Recording()
    platform.pci.add(dev, slot=1)
    platform.mmio.register(0xE0000000, 0x10000000, Ecam(platform.pci), "pci-ecam")
    sentinel = Region(0x77)
    platform.mmio.register(0xC0800000, 0x1000, sentinel, "sentinel")
    for space, offset, size, value in ops:
        if space == "cfg":
            dev.config_write(offset, size, value)
        elif space == "ecam":
            platform.mmio.write(0xE0000000 | 1 << 15 | (offset & 0xFFF), size, value)
        elif space == "mmio":
            platform.mmio.write(0xC0000000 + offset * 0x1000, size, value)
        else:
            platform.pio.write(0xC000 + offset, min(size, 4), value)
    # The sentinel device still decodes, and every decoding BAR is where its register says.
    assert platform.mmio.read(0xC0800000, 4) == 0x77
    for bar in dev.bars:
        if bar is not None and bar.address is not None:
            assert bar.address == bar.decoded_address(dev.bar_value(bar))
            assert platform.mmio.find(bar.address) or platform.pio.find(bar.address)
