"""The device tree of a virt machine, with QEMU's node names and properties.

Only what pyvirt models is described: no PCI host, flash, fw_cfg or RTC.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import layout as L
from .fdt import DeviceTree, Node, cells, pair, strings

RISCV_ISA = "rv64imac_zicsr_zifencei"
MMU_TYPE = "riscv,sv39"
IRQ_S_SOFT, IRQ_M_SOFT, IRQ_S_TIMER, IRQ_M_TIMER, IRQ_S_EXT, IRQ_M_EXT = 1, 3, 5, 7, 9, 11


@dataclass(frozen=True)
class DeviceTreeConfig:
    ram_size: int
    harts: int = 1
    bootargs: str = ""
    initrd: tuple[int, int] | None = None


def _reg(node: Node, base: int, size: int) -> None:
    node.set("reg", cells(*pair(base), *pair(size)))


def build(config: DeviceTreeConfig) -> DeviceTree:
    tree = DeviceTree()
    root = tree.root
    root.set("#address-cells", 2).set("#size-cells", 2)
    root.set("compatible", "riscv-virtio").set("model", "riscv-virtio,qemu")

    chosen = root.add("chosen")
    if config.bootargs:
        chosen.set("bootargs", config.bootargs)
    chosen.set("stdout-path", f"/soc/serial@{L.UART:x}")
    if config.initrd is not None:
        start, end = config.initrd
        chosen.set("linux,initrd-start", cells(*pair(start)))
        chosen.set("linux,initrd-end", cells(*pair(end)))

    memory = root.add(f"memory@{L.RAM:x}")
    memory.set("device_type", "memory")
    _reg(memory, L.RAM, config.ram_size)

    intcs = _cpus(root, config.harts)
    soc = root.add("soc")
    soc.set("#address-cells", 2).set("#size-cells", 2)
    soc.set("compatible", "simple-bus").set("ranges")

    clint = soc.add(f"clint@{L.CLINT:x}")
    clint.set("interrupts-extended",
              cells(*(v for i in intcs for v in (i, IRQ_M_SOFT, i, IRQ_M_TIMER))))  # fmt: skip
    _reg(clint, L.CLINT, L.CLINT_SIZE)
    clint.set("compatible", strings("sifive,clint0", "riscv,clint0"))

    plic = soc.add(f"plic@{L.PLIC:x}")
    plic_phandle = plic.phandle()
    plic.set("riscv,ndev", L.PLIC_SOURCES)
    _reg(plic, L.PLIC, L.PLIC_SIZE)
    plic.set("interrupts-extended",
             cells(*(v for i in intcs for v in (i, IRQ_M_EXT, i, IRQ_S_EXT))))  # fmt: skip
    plic.set("interrupt-controller")
    plic.set("compatible", strings("sifive,plic-1.0.0", "riscv,plic0"))
    plic.set("#address-cells", 0).set("#interrupt-cells", 1)

    test = soc.add(f"test@{L.TEST_DEVICE:x}")
    test_phandle = test.phandle()
    _reg(test, L.TEST_DEVICE, L.TEST_DEVICE_SIZE)
    test.set("compatible", strings("sifive,test1", "sifive,test0", "syscon"))
    for name, value, compatible in (("poweroff", 0x5555, "syscon-poweroff"),
                                    ("reboot", 0x7777, "syscon-reboot")):  # fmt: skip
        node = root.add(name)
        node.set("value", value).set("offset", 0).set("regmap", test_phandle)
        node.set("compatible", compatible)

    serial = soc.add(f"serial@{L.UART:x}")
    serial.set("interrupts", L.UART_IRQ).set("interrupt-parent", plic_phandle)
    serial.set("clock-frequency", L.UART_CLOCK_HZ)
    _reg(serial, L.UART, L.UART_SIZE)
    serial.set("compatible", "ns16550a")

    for slot in reversed(range(L.VIRTIO_MMIO_SLOTS)):  # QEMU's order: Linux probes the last first
        base = L.virtio_mmio_base(slot)
        node = soc.add(f"virtio_mmio@{base:x}")
        node.set("interrupts", L.VIRTIO_MMIO_IRQ + slot).set("interrupt-parent", plic_phandle)
        _reg(node, base, L.VIRTIO_MMIO_STRIDE)
        node.set("compatible", "virtio,mmio")
    return tree


def _cpus(root: Node, harts: int) -> list[int]:
    """The cpus node; returns the phandle of each hart's interrupt controller."""
    cpus = root.add("cpus")
    cpus.set("#address-cells", 1).set("#size-cells", 0)
    cpus.set("timebase-frequency", L.TIMEBASE_HZ)
    intcs, cpu_phandles = [], []
    for hart in range(harts):
        cpu = cpus.add(f"cpu@{hart}")
        cpu_phandles.append(cpu.phandle())
        cpu.set("device_type", "cpu").set("reg", hart).set("status", "okay")
        cpu.set("compatible", "riscv").set("riscv,isa", RISCV_ISA).set("mmu-type", MMU_TYPE)
        intc = cpu.add("interrupt-controller")
        intc.set("#interrupt-cells", 1).set("interrupt-controller")
        intc.set("compatible", "riscv,cpu-intc")
        intcs.append(intc.phandle())
    cluster = cpus.add("cpu-map").add("cluster0")
    for hart, phandle in enumerate(cpu_phandles):
        cluster.add(f"core{hart}").set("cpu", phandle)
    return intcs
