"""Where things live in the x86 guest's physical address space.

Everything the VMM writes for direct kernel boot sits in conventional memory
below 1 MiB, the way a BIOS would leave it; the kernel goes at 1 MiB.
"""

from __future__ import annotations

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

GDT_ADDR = 0x0500  # boot GDT (and the PVH/multiboot one)
BOOT_INFO_ADDR = 0x6000  # hvm_start_info or multiboot info, with their tables
BOOT_PARAMS_ADDR = 0x7000  # Linux zero page
PML4_ADDR = 0x9000  # identity page tables for 64-bit entry: PML4, PDPT, 4 page directories
PDPT_ADDR = 0xA000
PD_ADDR = 0xB000
CMDLINE_ADDR = 0x20000
CMDLINE_MAX = 0x10000
REALMODE_SETUP_ADDR = 0x90000  # where a real-mode setup would go; keep free
EBDA_START = 0x9FC00
VGA_START = 0xA0000
ACPI_TABLES_ADDR = 0xE0000
MPTABLE_ADDR = 0xF0000
BIOS_END = 0x100000
HIMEM_START = 0x100000  # 1 MiB: kernels load here

# RAM below 4 GiB stops here; the rest of guest RAM continues at 4 GiB.
LOWMEM_LIMIT = 0xC0000000
HIGHMEM_START = 0x100000000

VIRTIO_MMIO_BASE = 0xFEB00000  # virtio-mmio windows, 512 bytes each (as QEMU's microvm)

# The PCI hole below 4 GiB: BARs from LOWMEM_LIMIT, then the ECAM (256 buses x 1 MiB),
# clear of the IOAPIC, LAPIC, KVM's real-mode pages and a -bios image (16 MiB at most).
PCI_MMIO32_START = LOWMEM_LIMIT
PCI_MMIO32_END = 0xE0000000
PCI_ECAM_ADDR = 0xE0000000
PCI_ECAM_SIZE = 0x10000000
# 64-bit BARs go above RAM (and above 4 GiB), within the guest's physical address bits.
PCI_MMIO64_ALIGN = 1 << 30
PCI_MMIO64_SIZE = 32 << 30
# I/O BARs, as SeaBIOS places them.
PCI_IO_START = 0xC000
PCI_IO_END = 0x10000

IOAPIC_ADDR = 0xFEC00000
LAPIC_ADDR = 0xFEE00000
IDENTITY_MAP_ADDR = 0xFEFFC000  # one page KVM needs for real mode on VMX
TSS_ADDR = 0xFEFFD000  # three pages KVM needs for real mode on VMX
FOUR_GIB = 1 << 32
