"""QEMU virt's memory map and interrupt numbers (hw/riscv/virt.c)."""

from __future__ import annotations

BOOT_ROM, BOOT_ROM_SIZE = 0x1000, 0xF000
TEST_DEVICE, TEST_DEVICE_SIZE = 0x100000, 0x1000
CLINT, CLINT_SIZE = 0x2000000, 0x10000
PLIC, PLIC_SIZE = 0xC000000, 0x600000
UART, UART_SIZE, UART_IRQ = 0x10000000, 0x100, 10
UART_CLOCK_HZ = 3686400
VIRTIO_MMIO, VIRTIO_MMIO_STRIDE, VIRTIO_MMIO_SLOTS = 0x10001000, 0x1000, 8
VIRTIO_MMIO_IRQ = 1  # slot n raises PLIC source 1 + n
RAM = 0x80000000
PLIC_SOURCES = 96  # riscv,ndev: interrupt sources 1..96, as QEMU's
TIMEBASE_HZ = 10_000_000

# Where QEMU (hw/riscv/boot.c) puts the images in RAM
KERNEL_ALIGN_64 = 0x200000  # a kernel after the firmware starts on the next 2 MiB
FDT_ALIGN = 0x200000  # the device tree ends 2 MiB aligned below min(RAM end, 3 GiB)
FDT_MAX_SIZE = 0x100000


def virtio_mmio_base(slot: int) -> int:
    return VIRTIO_MMIO + slot * VIRTIO_MMIO_STRIDE
