"""The Intel MultiProcessor Specification 1.4 table, for guests that do not read ACPI.

Layout of the blob, meant for 0xF0000-0xFFFFF where Linux scans for "_MP_":
  base + 0   MP floating pointer structure (16 bytes, 16-byte aligned)
  base + 16  MP configuration table "PCMP": 44-byte header, then the entries
             sorted by type as the spec requires: processors (the BSP, APIC
             ID 0, flagged), the ISA bus, the IOAPIC, one I/O interrupt entry
             per routed ISA IRQ, and the LINT0/LINT1 local interrupt entries.
The routing is the MADT's (`pc_interrupts`): IRQ0 on IOAPIC pin 2, the
cascade IRQ2 absent, every other ISA IRQ on the pin of its number.
"""

from __future__ import annotations

import struct

from pyvirt.machine.x86.checksum import fix_checksum
from pyvirt.machine.x86.pc_interrupts import (
    IOAPIC_ADDR,
    IOAPIC_ID,
    LAPIC_ADDR,
    isa_irq_to_gsi,
    routed_isa_irqs,
)

MPTABLE_ADDR = 0xF0000
MP_SPEC_REV = 4  # 1.4
MAX_CPUS = 255  # 8-bit APIC IDs, 0xFF being the broadcast ID
FLOATING_POINTER_LEN = 16
CONFIG_HEADER_LEN = 44

OEM_ID = b"PYVIRT  "
PRODUCT_ID = b"PYVIRT VM   "
LAPIC_VERSION = 0x14  # an integrated xAPIC, as KVM's local APIC reports
IOAPIC_VERSION = 0x11  # KVM's IOAPIC (82093AA-like, 24 pins)
CPU_SIGNATURE = 0x600  # family 6: the entry is informative, the OS asks CPUID
CPU_FEATURES = (1 << 0) | (1 << 9)  # CPUID.1:EDX FPU and APIC

ENTRY_PROCESSOR = 0
ENTRY_BUS = 1
ENTRY_IOAPIC = 2
ENTRY_IO_INTERRUPT = 3
ENTRY_LOCAL_INTERRUPT = 4
CPU_ENABLED = 1 << 0
CPU_BOOTSTRAP = 1 << 1
IOAPIC_ENABLED = 1 << 0
INT_VECTORED = 0
INT_NMI = 1
INT_EXTINT = 3
INT_FLAGS_CONFORM = 0  # polarity and trigger as the source bus (ISA: edge, active high)
ISA_BUS_ID = 0
ALL_LOCAL_APICS = 0xFF


def build_mptable(
    num_cpus: int,
    base: int = MPTABLE_ADDR,
    *,
    lapic_addr: int = LAPIC_ADDR,
    ioapic_addr: int = IOAPIC_ADDR,
    ioapic_id: int = IOAPIC_ID,
) -> bytes:
    """Floating pointer + configuration table for `num_cpus` CPUs (APIC IDs 0..n-1) at `base`."""
    if not 1 <= num_cpus <= MAX_CPUS:
        raise ValueError(f"num_cpus must be 1..{MAX_CPUS}, not {num_cpus}")
    if base % 16 or base + FLOATING_POINTER_LEN >= 1 << 32:
        raise ValueError("the MP floating pointer must be 16-byte aligned below 4 GiB")
    entries = [_processor(cpu) for cpu in range(num_cpus)]
    entries.append(struct.pack("<BB6s", ENTRY_BUS, ISA_BUS_ID, b"ISA   "))
    entries.append(
        struct.pack("<BBBBI", ENTRY_IOAPIC, ioapic_id, IOAPIC_VERSION, IOAPIC_ENABLED, ioapic_addr)
    )
    entries += [
        _interrupt(ENTRY_IO_INTERRUPT, INT_VECTORED, irq, ioapic_id, isa_irq_to_gsi(irq))
        for irq in routed_isa_irqs()
    ]
    entries.append(_interrupt(ENTRY_LOCAL_INTERRUPT, INT_EXTINT, 0, ALL_LOCAL_APICS, 0))
    entries.append(_interrupt(ENTRY_LOCAL_INTERRUPT, INT_NMI, 0, ALL_LOCAL_APICS, 1))

    body = b"".join(entries)
    config = bytearray(
        struct.pack(
            "<4sHBB8s12sIHHIHBx",
            b"PCMP",
            CONFIG_HEADER_LEN + len(body),
            MP_SPEC_REV,
            0,  # checksum, fixed below
            OEM_ID,
            PRODUCT_ID,
            0,  # no OEM table
            0,
            len(entries),
            lapic_addr,
            0,  # no extended table
            0,
        )
        + body
    )
    fix_checksum(config, 7)

    config_addr = base + FLOATING_POINTER_LEN
    floating = bytearray(
        struct.pack(
            "<4sIBBBB4x",
            b"_MP_",
            config_addr,
            FLOATING_POINTER_LEN // 16,  # length in paragraphs
            MP_SPEC_REV,
            0,  # checksum, fixed below
            0,  # feature byte 1: 0 = a configuration table follows, no default configuration
        )  # feature byte 2 (IMCRP) clear: virtual wire mode, no IMCR to switch
    )
    fix_checksum(floating, 10)
    return bytes(floating + config)


def _processor(apic_id: int) -> bytes:
    flags = CPU_ENABLED | (CPU_BOOTSTRAP if apic_id == 0 else 0)
    return struct.pack(
        "<BBBBII8x", ENTRY_PROCESSOR, apic_id, LAPIC_VERSION, flags, CPU_SIGNATURE, CPU_FEATURES
    )


def _interrupt(kind: int, int_type: int, src_irq: int, dest_id: int, dest_pin: int) -> bytes:
    """An I/O (to an IOAPIC pin) or local (to a LINTn of local APICs) interrupt entry."""
    return struct.pack(
        "<BBHBBBB", kind, int_type, INT_FLAGS_CONFORM, ISA_BUS_ID, src_irq, dest_id, dest_pin
    )
