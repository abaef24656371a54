r"""ACPI tables for our x86 PC, built as one blob to copy into guest memory at a fixed base.

Blob layout (each item aligned to 16 bytes, the FACS to 64):
  RSDP (36 bytes, first, so a scan of 0xE0000-0xFFFFF for "RSD PTR " finds it)
  FACS, DSDT, FACP (the FADT), APIC (the MADT), [MCFG,] RSDT, XSDT
The XSDT (and, for ACPI 1.0 readers, the RSDT) lists FACP, APIC and MCFG; the FADT
points at the FACS and the DSDT. All pointers are physical addresses inside
the blob, so the base must be where the VMM really copies it.

What the tables describe (ACPI 6.3): a non hardware-reduced PC without SMM
(SMI_CMD = 0, so always in ACPI mode) whose fixed hardware is `hw.acpi_pm`
(PM1a event/control blocks, 32-bit PM timer, fixed power button), reset by
writing `reset_value` to I/O port `reset_port` (0xCF9, the PIIX/ICH reset
control register, which the VMM must implement), one IOAPIC and N vCPUs. The
FACS must stay writable: the OS uses it for the global lock and wake vector.

With a PCI host bridge (`AcpiConfig.pci`), the MCFG table gives its ECAM
window and the DSDT describes it as \_SB.PCI0: its bus range and address
windows (_CRS), the IOAPIC input of every slot's INTA-D (_PRT), and an _OSC
that grants the OS every control it asks for. A motherboard-resources device
(PNP0C02) claims the ECAM range, as Linux wants before it uses MMCONFIG.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from pyvirt.hw.acpi_pm import (
    PM1_CNT_LEN,
    PM1_EVT_LEN,
    PM_TIMER_BITS,
    PM_TMR_LEN,
    SLP_TYP_S5,
    AcpiPmPorts,
)
from pyvirt.machine.x86 import aml
from pyvirt.machine.x86.checksum import fix_checksum
from pyvirt.machine.x86.pc_interrupts import (
    IOAPIC_ADDR,
    IOAPIC_ID,
    LAPIC_ADDR,
    PCI_SLOTS,
    PIT_IRQ,
    isa_irq_to_gsi,
    pci_intx_gsi,
    routed_isa_irqs,
)

ACPI_TABLES_ADDR = 0xE0000

OEM_ID = b"PYVIRT"
OEM_TABLE_ID = b"PYVIRTVM"
OEM_REVISION = 1
CREATOR_ID = b"PYVT"
CREATOR_REVISION = 1
HYPERVISOR_VENDOR_ID = b"PYVIRT\0\0"

SDT_HEADER_LEN = 36
RSDP_LEN = 36
FACS_LEN = 64
FADT_LEN = 276  # revision 6 (ACPI 6.0 and later)
MAX_CPUS = 255  # xAPIC MADT entries: 8-bit APIC IDs, 0xFF is the broadcast ID

# FADT Flags (ACPI 6.3 table 5-35).
FADT_WBINVD = 1 << 0
FADT_PROC_C1 = 1 << 2
FADT_SLP_BUTTON = 1 << 5  # set: no fixed-feature sleep button
FADT_FIX_RTC = 1 << 6  # set: no RTC_STS wake status in PM1_STS
FADT_TMR_VAL_EXT = 1 << 8
FADT_RESET_REG_SUP = 1 << 10
FADT_FORCE_APIC_PHYSICAL_DESTINATION_MODE = 1 << 19
# FADT IAPC_BOOT_ARCH (table 5-36).
BOOT_LEGACY_DEVICES = 1 << 0
BOOT_8042 = 1 << 1
BOOT_VGA_NOT_PRESENT = 1 << 2
BOOT_CMOS_RTC_NOT_PRESENT = 1 << 5
# C2/C3 latencies above these mean "not supported" (table 5-34).
C2_UNSUPPORTED_LATENCY = 101
C3_UNSUPPORTED_LATENCY = 1001

# Generic Address Structure (table 5-25).
GAS_SYSTEM_IO = 1
GAS_ACCESS_BYTE = 1
GAS_ACCESS_WORD = 2
GAS_ACCESS_DWORD = 3

# MADT (section 5.2.12).
MADT_REVISION = 5
MADT_PCAT_COMPAT = 1 << 0
MADT_LOCAL_APIC = 0
MADT_IO_APIC = 1
MADT_INTERRUPT_OVERRIDE = 2
MADT_LOCAL_APIC_NMI = 4
MADT_LAPIC_ENABLED = 1 << 0
MADT_ALL_PROCESSORS = 0xFF
# MPS INTI flags (table 5-51): polarity in bits 1:0, trigger mode in bits 3:2.
INTI_ACTIVE_HIGH = 0b01
INTI_EDGE = 0b01 << 2
INTI_LEVEL = 0b11 << 2
ISA_BUS = 0

# MCFG (PCI Firmware Specification 3.2, 4.1.2) and the PCI host bridge.
MCFG_REVISION = 1
ECAM_BUS_SIZE = 1 << 20
PCI_CONFIG_PORTS = (0xCF8, 8)
PCI_IO_WINDOWS = ((0x0000, 0x0CF7), (0x0D00, 0xFFFF))  # all ports but the config ones
# _OSC (ACPI 6.3, 6.2.11): the PCI Express/PCI host bridge UUID and the status bits.
PCI_OSC_UUID = "33DB4D5B-1FF7-401C-9657-7441C03DD766"
OSC_UNRECOGNIZED_UUID = 1 << 2
OSC_UNRECOGNIZED_REVISION = 1 << 3


@dataclass(frozen=True)
class IsaResources:
    """A legacy ISA device's fixed I/O ports and IRQ, for its DSDT _CRS."""

    port: int
    length: int
    irq: int


@dataclass(frozen=True)
class VirtioMmioResources:
    """A virtio-mmio window and its level-triggered interrupt, for an LNRO0005 device."""

    base: int
    size: int
    gsi: int


@dataclass(frozen=True)
class PciHost:
    """A PCI host bridge (segment 0, buses 0..bus_end) with its ECAM and address windows.

    Windows are [start, end) ranges where the bridge forwards memory cycles to
    PCI; the 64-bit one is optional.
    """

    ecam_base: int
    mem32: tuple[int, int]
    mem64: tuple[int, int] | None = None
    bus_end: int = 0xFF

    @property
    def ecam_size(self) -> int:
        return (self.bus_end + 1) * ECAM_BUS_SIZE

    def __post_init__(self) -> None:
        if not 0 <= self.bus_end <= 0xFF:
            raise ValueError("PCI buses are 0-255")
        if self.ecam_base % ECAM_BUS_SIZE or self.ecam_base + self.ecam_size > 1 << 32:
            raise ValueError("the ECAM must be 1 MiB aligned and below 4 GiB")
        start, end = self.mem32
        if not 0 < start < end <= 1 << 32:
            raise ValueError("the 32-bit PCI window must be a range below 4 GiB")
        if self.mem64 is not None and not 1 << 32 <= self.mem64[0] < self.mem64[1] <= 1 << 64:
            raise ValueError("the 64-bit PCI window must be a range above 4 GiB")


@dataclass(frozen=True)
class AcpiConfig:
    """Everything the tables say about the machine; defaults are our PC's.

    i8042 stays off by default: our i8042 only implements the reset command.
    Linux reboots through the FADT reset register first and then port 0x64
    without consulting this flag, whereas advertising a controller lets its
    i8042 driver probe one (directly, in kernels built without PNP), which a
    reset-only model cannot answer. No VGA either: the VMM has no display.
    """

    num_cpus: int = 1
    pm: AcpiPmPorts = field(default_factory=AcpiPmPorts)
    sci_irq: int = 9
    lapic_addr: int = LAPIC_ADDR
    ioapic_addr: int = IOAPIC_ADDR
    ioapic_id: int = IOAPIC_ID
    reset_port: int = 0xCF9
    reset_value: int = 0x06
    serial_ports: tuple[IsaResources, ...] = (IsaResources(0x3F8, 8, 4),)
    rtc: IsaResources | None = IsaResources(0x70, 2, 8)
    i8042: bool = False
    vga: bool = False
    rtc_century_index: int = 0  # CMOS index of the century byte, 0 for none
    pci: PciHost | None = None
    virtio_mmio: tuple[VirtioMmioResources, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.num_cpus <= MAX_CPUS:
            raise ValueError(f"num_cpus must be 1..{MAX_CPUS}, not {self.num_cpus}")
        if self.sci_irq not in routed_isa_irqs() or self.sci_irq == PIT_IRQ:
            raise ValueError(f"SCI must be an ISA IRQ other than 0 and 2, not {self.sci_irq}")
        isa = [*self.serial_ports, *([self.rtc] if self.rtc else [])]
        if self.sci_irq in (dev.irq for dev in isa):
            raise ValueError("the level-triggered SCI cannot share an edge-triggered ISA IRQ")
        for dev in isa:
            if dev.irq not in routed_isa_irqs() or dev.irq == PIT_IRQ:
                raise ValueError(f"{dev}: IRQ must be an ISA IRQ other than 0 and 2")
            if not (0 < dev.length <= 0xFF and dev.port >= 0 and dev.port + dev.length <= 0x10000):
                raise ValueError(f"{dev}: ports outside the I/O space")
        if not (0 <= self.ioapic_id < 0xFF and 0 <= self.reset_value <= 0xFF):
            raise ValueError("IOAPIC ID and reset value are bytes")
        if not 0 < self.reset_port <= 0xFFFF or not 0 <= self.rtc_century_index < 0x80:
            raise ValueError("bad reset port or CMOS century index")
        if max(self.lapic_addr, self.ioapic_addr) >= 1 << 32:
            raise ValueError("APIC addresses must be 32-bit")


@dataclass(frozen=True)
class AcpiTables:
    """The built blob: copy `blob` to guest physical `base`; tell the guest `rsdp_addr`."""

    blob: bytes
    base: int
    rsdp_addr: int
    tables: Mapping[str, int]  # signature ("RSDP", "FACS", "DSDT", "FACP", ...) -> address

    def table(self, signature: str) -> bytes:
        """One table's bytes, located through `tables` (the RSDP and FACS included)."""
        start = self.tables[signature] - self.base
        if signature == "RSDP":
            return self.blob[start : start + RSDP_LEN]
        (length,) = struct.unpack_from("<I", self.blob, start + 4)
        return self.blob[start : start + length]


def build_acpi_tables(
    config: AcpiConfig = AcpiConfig(), base: int = ACPI_TABLES_ADDR
) -> AcpiTables:
    """Build RSDP, FACS, DSDT, FADT, MADT, [MCFG,] RSDT and XSDT for `config`, at `base`."""
    if base % 16:
        raise ValueError("the RSDP must be 16-byte aligned")
    blob = _Blob(base)
    blob.reserve("RSDP", RSDP_LEN)
    facs = blob.add("FACS", _facs(), align=64)
    dsdt = blob.add("DSDT", _dsdt(config))
    fadt = blob.add("FACP", _fadt(config, facs=facs, dsdt=dsdt))
    listed = [fadt, blob.add("APIC", _madt(config))]
    if config.pci is not None:
        listed.append(blob.add("MCFG", _mcfg(config.pci)))
    count = len(listed)
    rsdt = blob.add("RSDT", _sdt(b"RSDT", 1, struct.pack(f"<{count}I", *listed)))
    xsdt = blob.add("XSDT", _sdt(b"XSDT", 1, struct.pack(f"<{count}Q", *listed)))
    blob.fill("RSDP", _rsdp(rsdt=rsdt, xsdt=xsdt))
    if base + len(blob.data) > 1 << 32:
        raise ValueError("ACPI tables must lie below 4 GiB (32-bit pointers)")
    return AcpiTables(bytes(blob.data), base, blob.addrs["RSDP"], dict(blob.addrs))


class _Blob:
    """Places tables one after another from `base`, remembering their addresses."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.data = bytearray()
        self.addrs: dict[str, int] = {}

    def reserve(self, name: str, size: int, align: int = 16) -> int:
        self.data += bytes(-(self.base + len(self.data)) % align)
        self.addrs[name] = self.base + len(self.data)
        self.data += bytes(size)
        return self.addrs[name]

    def add(self, name: str, table: bytes, align: int = 16) -> int:
        addr = self.reserve(name, len(table), align)
        self.fill(name, table)
        return addr

    def fill(self, name: str, table: bytes) -> None:
        start = self.addrs[name] - self.base
        self.data[start : start + len(table)] = table


def _sdt(signature: bytes, revision: int, body: bytes) -> bytes:
    """A System Description Table: the standard 36-byte header, then `body`, checksummed."""
    table = bytearray(
        struct.pack(
            "<4sIBB6s8sI4sI",
            signature,
            SDT_HEADER_LEN + len(body),
            revision,
            0,  # checksum, fixed below
            OEM_ID,
            OEM_TABLE_ID,
            OEM_REVISION,
            CREATOR_ID,
            CREATOR_REVISION,
        )
        + body
    )
    fix_checksum(table, 9)
    return bytes(table)


def _rsdp(*, rsdt: int, xsdt: int) -> bytes:
    """ACPI 2.0+ RSDP: the ACPI 1.0 checksum covers bytes 0-19, the extended one all 36."""
    rsdp = bytearray(
        struct.pack("<8sB6sBIIQB3x", b"RSD PTR ", 0, OEM_ID, 2, rsdt, RSDP_LEN, xsdt, 0)
    )
    fix_checksum(rsdp, 8, 0, 20)
    fix_checksum(rsdp, 32)
    return bytes(rsdp)


def _facs() -> bytes:
    """FACS version 2: no hardware signature, no wake vector yet, global lock free."""
    return struct.pack("<4sIIIIIQB3xI24x", b"FACS", FACS_LEN, 0, 0, 0, 0, 0, 2, 0)


def _gas(address: int, bit_width: int, access: int, space: int = GAS_SYSTEM_IO) -> bytes:
    """A Generic Address Structure; the null one when `address` is 0."""
    if not address:
        return bytes(12)
    return struct.pack("<BBBBQ", space, bit_width, 0, access, address)


def _fadt(config: AcpiConfig, *, facs: int, dsdt: int) -> bytes:
    """FADT revision 6.3 (minor version 3), field by field at the spec's offsets."""
    pm = config.pm
    flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC | FADT_RESET_REG_SUP
    if PM_TIMER_BITS == 32:
        flags |= FADT_TMR_VAL_EXT
    if config.num_cpus > 8:  # logical flat mode addresses 8 CPUs at most
        flags |= FADT_FORCE_APIC_PHYSICAL_DESTINATION_MODE
    boot_arch = BOOT_LEGACY_DEVICES
    if config.i8042:
        boot_arch |= BOOT_8042
    if not config.vga:
        boot_arch |= BOOT_VGA_NOT_PRESENT
    if config.rtc is None:
        boot_arch |= BOOT_CMOS_RTC_NOT_PRESENT

    body = bytearray(FADT_LEN - SDT_HEADER_LEN)

    def put(offset: int, fmt: str, *values: object) -> None:
        struct.pack_into(fmt, body, offset - SDT_HEADER_LEN, *values)

    put(36, "<I", facs)  # FIRMWARE_CTRL (X_FIRMWARE_CTRL must then stay 0)
    put(40, "<I", dsdt)  # DSDT
    put(46, "<H", config.sci_irq)  # SCI_INT; SMI_CMD (48) = 0: no SMM, always ACPI mode
    put(56, "<I", pm.pm1a_evt)  # PM1a_EVT_BLK
    put(64, "<I", pm.pm1a_cnt)  # PM1a_CNT_BLK
    put(76, "<I", pm.pm_tmr)  # PM_TMR_BLK; no GPE blocks
    put(88, "<BBBB", PM1_EVT_LEN, PM1_CNT_LEN, 0, PM_TMR_LEN)  # PM1_EVT, PM1_CNT, PM2, TMR LEN
    put(96, "<HH", C2_UNSUPPORTED_LATENCY, C3_UNSUPPORTED_LATENCY)  # P_LVL2_LAT, P_LVL3_LAT
    put(108, "<BH", config.rtc_century_index, boot_arch)  # CENTURY, IAPC_BOOT_ARCH
    put(112, "<I", flags)
    put(116, "<12sB", _gas(config.reset_port, 8, GAS_ACCESS_BYTE), config.reset_value)
    put(131, "<B", 3)  # FADT Minor Version: ACPI 6.3
    put(140, "<Q", dsdt)  # X_DSDT
    put(148, "<12s", _gas(pm.pm1a_evt, 8 * PM1_EVT_LEN, GAS_ACCESS_WORD))  # X_PM1a_EVT_BLK
    put(172, "<12s", _gas(pm.pm1a_cnt, 8 * PM1_CNT_LEN, GAS_ACCESS_WORD))  # X_PM1a_CNT_BLK
    put(208, "<12s", _gas(pm.pm_tmr, 8 * PM_TMR_LEN, GAS_ACCESS_DWORD))  # X_PM_TMR_BLK
    put(268, "<8s", HYPERVISOR_VENDOR_ID)
    return _sdt(b"FACP", 6, bytes(body))


def _madt(config: AcpiConfig) -> bytes:
    """MADT: one enabled local APIC per vCPU (ID = UID = index), the IOAPIC, ISA overrides."""
    entries = [
        struct.pack("<BBBBI", MADT_LOCAL_APIC, 8, cpu, cpu, MADT_LAPIC_ENABLED)
        for cpu in range(config.num_cpus)
    ]
    entries.append(
        struct.pack("<BBBBII", MADT_IO_APIC, 12, config.ioapic_id, 0, config.ioapic_addr, 0)
    )
    overrides = (
        (PIT_IRQ, INTI_ACTIVE_HIGH | INTI_EDGE),
        (config.sci_irq, INTI_ACTIVE_HIGH | INTI_LEVEL),
    )
    for irq, inti_flags in overrides:
        entries.append(
            struct.pack(
                "<BBBBIH",
                MADT_INTERRUPT_OVERRIDE,
                10,
                ISA_BUS,
                irq,
                isa_irq_to_gsi(irq),
                inti_flags,
            )
        )
    entries.append(
        struct.pack(
            "<BBBHB", MADT_LOCAL_APIC_NMI, 6, MADT_ALL_PROCESSORS, INTI_ACTIVE_HIGH | INTI_EDGE, 1
        )
    )
    header = struct.pack("<II", config.lapic_addr, MADT_PCAT_COMPAT)
    return _sdt(b"APIC", MADT_REVISION, header + b"".join(entries))


def _isa_device(name: str, hid: str, uid: int, res: IsaResources) -> bytes:
    return aml.device(
        name,
        aml.name("_HID", aml.eisa_id(hid)),
        aml.name("_UID", uid),
        aml.name(
            "_CRS",
            aml.resource_template(aml.io_port(res.port, res.length), aml.irq_no_flags(res.irq)),
        ),
    )


def _mcfg(pci: PciHost) -> bytes:
    """MCFG: 8 reserved bytes, then one ECAM allocation (base, segment, first and last bus)."""
    allocation = struct.pack("<QHBBI", pci.ecam_base, 0, 0, pci.bus_end, 0)
    return _sdt(b"MCFG", MCFG_REVISION, bytes(8) + allocation)


def _pci_routing_table() -> bytes:
    """_PRT: every slot's INTA-D straight to its GSI (a Source of 0 means "a GSI")."""
    entries = [
        aml.package((slot << 16) | 0xFFFF, pin, 0, pci_intx_gsi(slot, pin))
        for slot in range(PCI_SLOTS)
        for pin in range(4)
    ]
    return aml.name("_PRT", aml.package(*entries))


def _pci_osc() -> bytes:
    """_OSC for the PCI host bridge: whatever the OS asks to control, it gets.

    Returns Arg3 (the capabilities buffer) with its control dword untouched, so
    the OS owns hotplug, PME, AER and the PCIe capability; other UUIDs and
    revisions are answered as unrecognized.
    """
    cdw1 = "CDW1"
    return aml.method(
        "_OSC",
        4,
        aml.create_dword_field(aml.arg(3), 0, cdw1),
        aml.if_(
            aml.lequal(aml.arg(0), aml.to_uuid(PCI_OSC_UUID)),
            aml.if_(
                aml.lnot(aml.lequal(aml.arg(1), aml.integer(1))),
                aml.or_(aml.name_string(cdw1), aml.integer(OSC_UNRECOGNIZED_REVISION), cdw1),
            ),
        ),
        aml.else_(aml.or_(aml.name_string(cdw1), aml.integer(OSC_UNRECOGNIZED_UUID), cdw1)),
        aml.return_(aml.arg(3)),
    )


def _pci_host_bridge(pci: PciHost) -> bytes:
    windows = [aml.word_io(low, high) for low, high in PCI_IO_WINDOWS]
    windows.append(aml.dword_memory(pci.mem32[0], pci.mem32[1] - 1))
    if pci.mem64 is not None:
        windows.append(aml.qword_memory(pci.mem64[0], pci.mem64[1] - 1))
    crs = aml.resource_template(
        aml.word_bus_number(0, pci.bus_end),
        aml.io_port(*PCI_CONFIG_PORTS),
        *windows,
    )
    return aml.device(
        "PCI0",
        aml.name("_HID", aml.eisa_id("PNP0A08")),  # PCI Express root bridge
        aml.name("_CID", aml.eisa_id("PNP0A03")),  # PCI root bridge
        aml.name("_SEG", 0),
        aml.name("_BBN", 0),
        aml.name("_UID", 0),
        aml.name("_CRS", crs),
        _pci_routing_table(),
        _pci_osc(),
    )


def _motherboard_resources(pci: PciHost) -> bytes:
    """PNP0C02 claiming the ECAM: Linux checks MMCONFIG is reserved before trusting it."""
    return aml.device(
        "MRES",
        aml.name("_HID", aml.eisa_id("PNP0C02")),
        aml.name("_UID", 0),
        aml.name("_CRS", aml.resource_template(aml.memory32_fixed(pci.ecam_base, pci.ecam_size))),
    )


def _virtio_mmio_device(index: int, res: VirtioMmioResources) -> bytes:
    """Linux's virtio_mmio driver binds to _HID LNRO0005 (as on QEMU's microvm)."""
    return aml.device(
        f"VR{index:02X}",
        aml.name("_HID", "LNRO0005"),
        aml.name("_UID", index),
        aml.name("_CCA", 1),  # cache-coherent DMA
        aml.name(
            "_CRS",
            aml.resource_template(
                aml.memory32_fixed(res.base, res.size), aml.extended_interrupt(res.gsi)
            ),
        ),
    )


def _dsdt(config: AcpiConfig) -> bytes:
    r"""DSDT: \_S5 for poweroff, a processor device per vCPU, COM ports, the RTC, PCI.

    The power button is the FADT's fixed-feature one, so no PNP0C0C device here
    (that would be a second, control-method button needing a GPE to notify it).
    """
    devices = [
        aml.device(f"C{cpu:03X}", aml.name("_HID", "ACPI0007"), aml.name("_UID", cpu))
        for cpu in range(config.num_cpus)
    ]
    devices += [
        _isa_device(f"COM{n}", "PNP0501", n, res)
        for n, res in enumerate(config.serial_ports, start=1)
    ]
    if config.rtc is not None:
        devices.append(_isa_device("RTC", "PNP0B00", 0, config.rtc))
    if config.pci is not None:
        devices += [_pci_host_bridge(config.pci), _motherboard_resources(config.pci)]
    devices += [_virtio_mmio_device(n, res) for n, res in enumerate(config.virtio_mmio)]
    body = aml.name("\\_S5", aml.package(SLP_TYP_S5, SLP_TYP_S5, 0, 0)) + aml.scope(
        "\\_SB", *devices
    )
    return _sdt(b"DSDT", 2, body)
