"""Interrupt controller addresses and ISA/PCI IRQ routing of our PC, shared by the MADT, the
MP table, the DSDT's PCI routing table and the board's wiring.

Both tables must tell the guest the same story: one IOAPIC whose pins are the
GSIs 0-23, ISA IRQs wired identity to those pins except the PIT's IRQ0, which
(as on every PC since the IOAPIC) arrives on pin 2 where the 8259 cascade sits.
"""

from __future__ import annotations

LAPIC_ADDR = 0xFEE00000
IOAPIC_ADDR = 0xFEC00000
# KVM's in-kernel IOAPIC resets its ID register to 0 and QEMU describes it so: do the same.
IOAPIC_ID = 0
IOAPIC_PINS = 24
ISA_IRQ_COUNT = 16
CASCADE_IRQ = 2  # the slave 8259's cascade input: no ISA device raises it
PIT_IRQ = 0
PIT_GSI = 2
# PCI INTx lines: the IOAPIC pins above the ISA ones, level-triggered, active low, shared.
PCI_GSI_BASE = 16
PCI_GSI_COUNT = IOAPIC_PINS - PCI_GSI_BASE
PCI_SLOTS = 32


def isa_irq_to_gsi(irq: int) -> int:
    """The IOAPIC pin (GSI, with GSI base 0) an ISA IRQ arrives on."""
    if not 0 <= irq < ISA_IRQ_COUNT:
        raise ValueError(f"ISA IRQ {irq} out of range")
    return PIT_GSI if irq == PIT_IRQ else irq


def routed_isa_irqs() -> list[int]:
    """The ISA IRQs that have an IOAPIC pin of their own (all but the cascade)."""
    return [irq for irq in range(ISA_IRQ_COUNT) if irq != CASCADE_IRQ]


def pci_intx_gsi(slot: int, pin: int) -> int:
    """The GSI of PCI slot `slot`'s pin `pin` (0 = INTA .. 3 = INTD).

    Swizzled as boards do, (slot + pin) mod the number of lines, so that the
    INTA of neighbouring slots (the pin single-function devices use) lands on
    different lines.
    """
    if not (0 <= slot < PCI_SLOTS and 0 <= pin < 4):
        raise ValueError(f"no PCI slot {slot} pin {pin}")
    return PCI_GSI_BASE + (slot + pin) % PCI_GSI_COUNT
