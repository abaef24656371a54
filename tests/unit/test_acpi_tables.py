"""ACPI tables checked field by field at the offsets given in the ACPI 6.3 specification."""

from __future__ import annotations

import pytest

from pyvirt.hw.acpi_pm import PM_TIMER_BITS, SLP_TYP_S5, AcpiPmPorts
from pyvirt.machine.x86 import aml
from pyvirt.machine.x86.acpi import (
    ACPI_TABLES_ADDR,
    AcpiConfig,
    AcpiTables,
    IsaResources,
    PciHost,
    build_acpi_tables,
)

BASE = ACPI_TABLES_ADDR


class Mem:
    """The blob seen as guest physical memory: reads by physical address."""

    def __init__(self, tables: AcpiTables) -> None:
        self.data = tables.blob
        self.base = tables.base

    def raw(self, addr: int, size: int) -> bytes:
        off = addr - self.base
        assert off >= 0 and off + size <= len(self.data), f"{addr:#x}+{size} outside the blob"
        return self.data[off : off + size]

    def u8(self, addr: int) -> int:
        return self.raw(addr, 1)[0]

    def u16(self, addr: int) -> int:
        return int.from_bytes(self.raw(addr, 2), "little")

    def u32(self, addr: int) -> int:
        return int.from_bytes(self.raw(addr, 4), "little")

    def u64(self, addr: int) -> int:
        return int.from_bytes(self.raw(addr, 8), "little")

    def table(self, addr: int) -> bytes:
        """A whole SDT by its header's Length (offset 4)."""
        return self.raw(addr, self.u32(addr + 4))


def build(num_cpus: int = 1, base: int = BASE, **kw: object) -> tuple[AcpiTables, Mem]:
    tables = build_acpi_tables(AcpiConfig(num_cpus=num_cpus, **kw), base)  # type: ignore[arg-type]
    return tables, Mem(tables)


def xsdt_entries(mem: Mem, rsdp: int) -> dict[bytes, int]:
    xsdt = mem.u64(rsdp + 24)
    n = (mem.u32(xsdt + 4) - 36) // 8
    addrs = [mem.u64(xsdt + 36 + 8 * i) for i in range(n)]
    return {mem.raw(a, 4): a for a in addrs}


def find(mem: Mem, tables: AcpiTables, sig: bytes) -> int:
    return xsdt_entries(mem, tables.rsdp_addr)[sig]


def test_rsdp_is_first_16_byte_aligned_and_valid() -> None:
    tables, mem = build()
    assert tables.rsdp_addr == BASE == tables.base
    rsdp = mem.raw(BASE, 36)
    assert rsdp[0:8] == b"RSD PTR "
    assert sum(rsdp[:20]) % 256 == 0  # ACPI 1.0 checksum, byte 8
    assert sum(rsdp) % 256 == 0  # extended checksum, byte 32
    assert rsdp[9:15] == b"PYVIRT"
    assert rsdp[15] == 2  # revision: ACPI 2.0+
    assert mem.u32(BASE + 20) == 36  # length
    assert mem.raw(mem.u32(BASE + 16), 4) == b"RSDT"
    assert mem.raw(mem.u64(BASE + 24), 4) == b"XSDT"


def test_a_bios_area_scan_finds_exactly_the_rsdp() -> None:
    tables, _ = build(4)
    hits = [
        off for off in range(0, len(tables.blob), 16) if tables.blob[off : off + 8] == b"RSD PTR "
    ]
    assert hits == [0]


@pytest.mark.parametrize("num_cpus", [1, 2, 4, 9, 64])
def test_every_table_checksums_and_lies_inside_the_blob(num_cpus: int) -> None:
    tables, mem = build(num_cpus)
    for sig, addr in xsdt_entries(mem, tables.rsdp_addr).items():
        table = mem.table(addr)
        assert sum(table) % 256 == 0, sig
        assert table[10:16] == b"PYVIRT", sig
    fadt = find(mem, tables, b"FACP")
    for addr in (mem.u32(fadt + 40), mem.u32(mem.u32(BASE + 16) + 36)):
        assert sum(mem.table(addr)) % 256 == 0


def test_rsdt_and_xsdt_list_the_same_tables() -> None:
    _, mem = build()
    rsdt = mem.u32(BASE + 16)
    assert mem.u32(rsdt + 4) == 36 + 4 * 2
    rsdt_entries = [mem.u32(rsdt + 36 + 4 * i) for i in range(2)]
    xsdt = xsdt_entries(mem, BASE)
    assert sorted(xsdt) == [b"APIC", b"FACP"]
    assert sorted(rsdt_entries) == sorted(xsdt.values())
    assert mem.u8(mem.u64(BASE + 24) + 8) == 1  # XSDT revision


def test_tables_map_matches_the_pointers() -> None:
    tables, mem = build(2)
    fadt = find(mem, tables, b"FACP")
    assert tables.tables["FACP"] == fadt
    assert tables.tables["APIC"] == find(mem, tables, b"APIC")
    assert tables.tables["DSDT"] == mem.u32(fadt + 40)
    assert tables.tables["FACS"] == mem.u32(fadt + 36)
    assert tables.table("APIC") == mem.table(tables.tables["APIC"])
    assert tables.table("RSDP") == mem.raw(BASE, 36)


def test_fadt_fields_at_spec_offsets() -> None:
    tables, mem = build()
    f = find(mem, tables, b"FACP")
    assert mem.u32(f + 4) == 276  # length of a revision 6 FADT
    assert mem.u8(f + 8) == 6  # major revision
    assert mem.u8(f + 131) == 3  # minor revision: 6.3
    facs, dsdt = mem.u32(f + 36), mem.u32(f + 40)
    assert mem.raw(facs, 4) == b"FACS"
    assert facs % 64 == 0
    assert mem.u64(f + 132) == 0  # X_FIRMWARE_CTRL: zero when FIRMWARE_CTRL is set
    assert mem.raw(dsdt, 4) == b"DSDT"
    assert mem.u64(f + 140) == dsdt  # X_DSDT
    assert mem.u16(f + 46) == 9  # SCI_INT
    assert mem.u32(f + 48) == 0  # SMI_CMD: no SMM, always in ACPI mode
    assert mem.u32(f + 56) == 0x600  # PM1a_EVT_BLK
    assert mem.u32(f + 60) == 0  # PM1b_EVT_BLK
    assert mem.u32(f + 64) == 0x604  # PM1a_CNT_BLK
    assert mem.u32(f + 76) == 0x608  # PM_TMR_BLK
    assert mem.u32(f + 80) == 0  # GPE0_BLK
    assert mem.raw(f + 88, 4) == bytes([4, 2, 0, 4])  # PM1_EVT, PM1_CNT, PM2_CNT, PM_TMR lengths
    assert mem.u16(f + 96) > 100  # P_LVL2_LAT: no C2
    assert mem.u16(f + 98) > 1000  # P_LVL3_LAT: no C3
    boot = mem.u16(f + 109)  # IAPC_BOOT_ARCH
    assert boot & 1  # legacy devices (COM1, RTC, PIT)
    assert not boot & 2  # no 8042 advertised by default
    assert boot & 4  # VGA not present
    assert not boot & 0x20  # CMOS RTC present
    flags = mem.u32(f + 112)
    assert flags & 1 << 0  # WBINVD
    assert flags & 1 << 2  # PROC_C1
    assert not flags & 1 << 4  # PWR_BUTTON clear: fixed-feature power button
    assert flags & 1 << 5  # SLP_BUTTON set: no sleep button
    assert bool(flags & 1 << 8) == (PM_TIMER_BITS == 32)  # TMR_VAL_EXT agrees with the device
    assert flags & 1 << 10  # RESET_REG_SUP
    assert not flags & 1 << 20  # HW_REDUCED_ACPI off
    # RESET_REG: GAS {SystemIO, 8 bits, offset 0, byte access, 0xCF9}, RESET_VALUE 6.
    assert mem.raw(f + 116, 4) == bytes([1, 8, 0, 1])
    assert mem.u64(f + 120) == 0xCF9
    assert mem.u8(f + 128) == 0x06
    # X_PM1a_EVT_BLK, X_PM1a_CNT_BLK, X_PM_TMR_BLK: SystemIO, bit widths 32/16/32.
    for off, width, port in ((148, 32, 0x600), (172, 16, 0x604), (208, 32, 0x608)):
        assert mem.raw(f + off, 3) == bytes([1, width, 0])
        assert mem.u64(f + off + 4) == port
    for off in (160, 184, 196, 220, 232, 244, 256):  # PM1b, PM2, GPE0/1, sleep regs: absent
        assert mem.raw(f + off, 12) == bytes(12)


def test_fadt_follows_the_config() -> None:
    ports = AcpiPmPorts(pm1a_evt=0xB000, pm1a_cnt=0xB004, pm_tmr=0xB008)
    tables, mem = build(
        9,
        pm=ports,
        sci_irq=10,
        reset_port=0x64,
        reset_value=0xFE,
        i8042=True,
        rtc_century_index=0x32,
    )
    f = find(mem, tables, b"FACP")
    assert (mem.u32(f + 56), mem.u32(f + 64), mem.u32(f + 76)) == (0xB000, 0xB004, 0xB008)
    assert mem.u64(f + 152) == 0xB000
    assert mem.u16(f + 46) == 10
    assert mem.u64(f + 120) == 0x64
    assert mem.u8(f + 128) == 0xFE
    assert mem.u8(f + 108) == 0x32  # CENTURY
    assert mem.u16(f + 109) & 2  # 8042
    assert mem.u32(f + 112) & 1 << 19  # more than 8 CPUs: physical destination mode


def test_facs() -> None:
    tables, mem = build()
    facs = mem.raw(tables.tables["FACS"], 64)
    assert facs[:4] == b"FACS"
    assert mem.u32(tables.tables["FACS"] + 4) == 64
    assert facs[32] == 2  # version
    assert facs[8:32] == bytes(24)  # no hardware signature, wake vectors, global lock free


def madt_entries(mem: Mem, madt: int) -> list[bytes]:
    entries, off, end = [], madt + 44, madt + mem.u32(madt + 4)
    while off < end:
        length = mem.u8(off + 1)
        assert length >= 2
        entries.append(mem.raw(off, length))
        off += length
    assert off == end
    return entries


@pytest.mark.parametrize("num_cpus", [1, 2, 4])
def test_madt(num_cpus: int) -> None:
    tables, mem = build(num_cpus)
    madt = find(mem, tables, b"APIC")
    assert mem.u8(madt + 8) >= 3  # revision
    assert mem.u32(madt + 36) == 0xFEE00000  # local interrupt controller address
    assert mem.u32(madt + 40) & 1  # PCAT_COMPAT: the 8259s are there too
    entries = madt_entries(mem, madt)
    by_type: dict[int, list[bytes]] = {}
    for e in entries:
        by_type.setdefault(e[0], []).append(e)
    assert sorted(by_type) == [0, 1, 2, 4]

    lapics = by_type[0]  # Processor Local APIC: UID @2, APIC ID @3, flags @4
    assert [len(e) for e in lapics] == [8] * num_cpus
    assert [e[3] for e in lapics] == list(range(num_cpus))
    assert [e[2] for e in lapics] == list(range(num_cpus))
    assert all(int.from_bytes(e[4:8], "little") & 1 for e in lapics)

    (ioapic,) = by_type[1]  # I/O APIC: ID @2, address @4, GSI base @8
    assert len(ioapic) == 12
    assert ioapic[2] == 0
    assert int.from_bytes(ioapic[4:8], "little") == 0xFEC00000
    assert int.from_bytes(ioapic[8:12], "little") == 0

    overrides = {  # Interrupt Source Override: bus @2, source @3, GSI @4, flags @8
        e[3]: (e[2], int.from_bytes(e[4:8], "little"), int.from_bytes(e[8:10], "little"))
        for e in by_type[2]
    }
    assert all(len(e) == 10 for e in by_type[2])
    assert overrides[0] == (0, 2, 0b0101)  # ISA IRQ0 -> GSI 2, edge, active high
    assert overrides[9] == (0, 9, 0b1101)  # SCI: level, active high
    assert len(overrides) == 2

    (nmi,) = by_type[4]  # Local APIC NMI: UID @2 (0xFF = all), flags @3, LINT# @5
    assert len(nmi) == 6
    assert nmi[2] == 0xFF
    assert nmi[5] == 1


def test_dsdt_offers_s5_and_devices() -> None:
    tables, mem = build(2)
    dsdt = mem.table(tables.tables["DSDT"])
    assert dsdt[:4] == b"DSDT"
    assert dsdt[8] == 2  # revision 2: 64-bit integers
    body = dsdt[36:]
    # Name (\_S5, Package (4) { SLP_TYP_S5, SLP_TYP_S5, 0, 0 }), byte by byte.
    s5 = (
        b"\x08\\_S5_\x12\x08\x04\x0a"
        + bytes([SLP_TYP_S5])
        + b"\x0a"
        + bytes([SLP_TYP_S5])
        + b"\x00\x00"
    )
    assert body.startswith(s5)
    assert b"ACPI0007" in body
    assert b"C000" in body and b"C001" in body and b"C002" not in body
    assert b"COM1\x08_HID\x0c\x41\xd0\x05\x01" in body  # EisaId ("PNP0501")
    assert b"\x47\x01\xf8\x03\xf8\x03" in body  # IO (Decode16, 0x3F8, 0x3F8, ...)


def test_dsdt_without_optional_devices() -> None:
    tables, mem = build(1, serial_ports=(), rtc=None)
    dsdt = mem.table(tables.tables["DSDT"])
    assert b"COM1" not in dsdt and b"RTC_" not in dsdt
    assert mem.u16(find(mem, tables, b"FACP") + 109) & 0x20  # CMOS RTC not present


def test_another_base_moves_every_pointer() -> None:
    a, _ = build(2, base=0xE0000)
    b, mem_b = build(2, base=0x9FC00)
    assert b.rsdp_addr == 0x9FC00
    assert {k: v - 0xE0000 for k, v in a.tables.items()} == {
        k: v - 0x9FC00 for k, v in b.tables.items()
    }
    assert mem_b.table(find(mem_b, b, b"APIC")) == Mem(a).table(find(Mem(a), a, b"APIC"))


def test_blob_fits_the_bios_area_for_the_largest_config() -> None:
    tables, _ = build(255)
    assert BASE + len(tables.blob) <= 0xF0000  # leaves 0xF0000-0xFFFFF to the MP table


@pytest.mark.parametrize(
    "kw",
    [
        {"num_cpus": 0},
        {"num_cpus": 256},
        {"sci_irq": 0},
        {"sci_irq": 2},
        {"sci_irq": 16},
        {"sci_irq": 4},  # COM1's
        {"serial_ports": (IsaResources(0x3F8, 8, 2),)},
        {"ioapic_id": 0xFF},
    ],
)
def test_bad_configs_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AcpiConfig(**kw)  # type: ignore[arg-type]


def test_misaligned_base_is_refused() -> None:
    with pytest.raises(ValueError):
        build_acpi_tables(AcpiConfig(), 0xE0008)


def test_header_layout() -> None:
    tables, mem = build()
    madt = tables.tables["APIC"]
    assert mem.raw(madt, 4) == b"APIC"  # Signature @0, Length @4, Revision @8, Checksum @9
    assert mem.u32(madt + 4) == len(mem.table(madt))
    assert mem.raw(madt + 10, 6) == b"PYVIRT"  # OEMID
    assert mem.raw(madt + 16, 8) == b"PYVIRTVM"  # OEM Table ID
    assert mem.raw(madt + 28, 4) == b"PYVT"  # Creator ID


# --- the PCI host bridge -------------------------------------------------------------------------

PCI = PciHost(ecam_base=0xE0000000, mem32=(0xC0000000, 0xE0000000), mem64=(1 << 32, 9 << 32))


def test_mcfg_describes_the_ecam() -> None:
    tables, mem = build(1, pci=PCI)
    mcfg = find(mem, tables, b"MCFG")
    assert tables.tables["MCFG"] == mcfg
    assert mem.u32(mcfg + 4) == 36 + 8 + 16
    assert mem.u8(mcfg + 8) == 1  # revision
    assert mem.raw(mcfg + 36, 8) == bytes(8)  # reserved
    assert mem.u64(mcfg + 44) == 0xE0000000  # base address
    assert mem.u16(mcfg + 52) == 0  # segment
    assert (mem.u8(mcfg + 54), mem.u8(mcfg + 55)) == (0, 0xFF)  # buses
    assert sum(mem.table(mcfg)) % 256 == 0


def test_rsdt_and_xsdt_list_the_mcfg_too() -> None:
    _, mem = build(1, pci=PCI)
    assert sorted(xsdt_entries(mem, BASE)) == [b"APIC", b"FACP", b"MCFG"]
    rsdt = mem.u32(BASE + 16)
    assert mem.u32(rsdt + 4) == 36 + 4 * 3
    assert {mem.u32(rsdt + 36 + 4 * i) for i in range(3)} == set(xsdt_entries(mem, BASE).values())


def test_dsdt_has_the_host_bridge() -> None:
    tables, mem = build(1, pci=PCI)
    body = mem.table(tables.tables["DSDT"])[36:]
    assert b"PCI0\x08_HID\x0c\x41\xd0\x0a\x08" in body  # EisaId ("PNP0A08")
    assert b"\x08_CID\x0c\x41\xd0\x0a\x03" in body  # EisaId ("PNP0A03")
    assert b"_PRT" in body and b"_OSC" in body and b"MRES" in body
    assert aml.word_io(0xD00, 0xFFFF) in body
    assert aml.dword_memory(0xC0000000, 0xDFFFFFFF) in body
    assert aml.qword_memory(1 << 32, (9 << 32) - 1) in body
    assert aml.memory32_fixed(0xE0000000, 0x10000000) in body
    # _PRT: slot 5 INTB is GSI 16 + (5 + 1) % 8.
    assert aml.package(0x5FFFF, 1, 0, 22) in body
    no_pci, mem2 = build(1)
    assert b"PCI0" not in mem2.table(no_pci.tables["DSDT"]) and "MCFG" not in no_pci.tables


def test_without_a_64_bit_window() -> None:
    tables, mem = build(1, pci=PciHost(0xE0000000, (0xC0000000, 0xE0000000)))
    assert b"\x8a\x2b\x00" not in mem.table(tables.tables["DSDT"])  # no QWordMemory


def test_largest_config_with_pci_fits_the_bios_area() -> None:
    tables, _ = build(255, pci=PCI)
    assert BASE + len(tables.blob) <= 0xF0000


@pytest.mark.parametrize(
    "kw",
    [
        {"ecam_base": 0xE0080000},  # not 1 MiB aligned
        {"ecam_base": 0xF8000000},  # 256 buses run past 4 GiB
        {"bus_end": 256},
        {"mem32": (0xE0000000, 0xC0000000)},
        {"mem32": (0xC0000000, (1 << 32) + 1)},
        {"mem64": (0xC0000000, 1 << 33)},
    ],
)
def test_bad_pci_hosts_are_refused(kw: dict[str, object]) -> None:
    args: dict[str, object] = {"ecam_base": 0xE0000000, "mem32": (0xC0000000, 0xE0000000)}
    with pytest.raises(ValueError):
        PciHost(**{**args, **kw})  # type: ignore[arg-type]
