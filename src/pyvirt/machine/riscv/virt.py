"""QEMU's `virt` board: harts, boot ROM, RAM, CLINT, PLIC, UART, test device, virtio-mmio.

The machine is also the harts' PhysBus: RAM and the boot ROM are memoryviews
the CPU reads directly; everything else goes through the MMIO bus. An address
no device claims raises AccessFault, which the hart turns into an access
fault trap for the guest.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyvirt.hw.bus import Bus
from pyvirt.hw.serial import Serial16550
from pyvirt.hw.virtio import mmio as mmio_transport
from pyvirt.hw.virtio.device import VirtioDevice
from pyvirt.hw.virtio.mmio import VirtioMmio
from pyvirt.machine.host import CharBackend, HostResources, VirtioConfig
from pyvirt.machine.virtio_factory import close_virtio, create_virtio
from pyvirt.machine.x86.loader import BootError
from pyvirt.memory import GuestMemory
from pyvirt.tcg.riscv.bus import AccessFault
from pyvirt.tcg.riscv.hart import Hart

from . import devicetree, loader
from . import layout as L
from .boot_rom import boot_rom
from .clint import Clint
from .plic import Plic
from .test_device import PowerEvents, SifiveTest


@dataclass(frozen=True)
class VirtConfig:
    ram_size: int
    harts: int = 1
    kernel: str | None = None
    initrd: str | None = None
    append: str = ""
    bios: str | None = None  # None or "default": OpenSBI fw_dynamic; "none"; or a path
    virtio: tuple[VirtioConfig, ...] = ()


class EmptyVirtioSlot:
    """A virtio-mmio window with no device behind it (device ID 0), as QEMU's."""

    def read(self, offset: int, size: int) -> int:
        if size != 4:
            return 0
        return {mmio_transport.MAGIC_VALUE: mmio_transport.MAGIC,
                mmio_transport.VERSION_REG: mmio_transport.VERSION,
                mmio_transport.VENDOR_ID: mmio_transport.VENDOR}.get(offset, 0)  # fmt: skip

    def write(self, offset: int, size: int, value: int) -> None:
        pass


class VirtMachine:
    def __init__(
        self,
        config: VirtConfig,
        serial: CharBackend | None,
        events: PowerEvents,
        host: HostResources,
    ) -> None:
        self.config = config
        self.host = host
        self.mem = GuestMemory()
        self.mmio = Bus("mmio")
        self.virtio_devices: list[VirtioDevice] = []
        self.clint = Clint(config.harts)
        self.harts: list[Hart] = []
        try:
            self._build(serial, events)
        except BaseException:
            self.close()
            raise

    def _build(self, serial: CharBackend | None, events: PowerEvents) -> None:
        c = self.config
        self.mem.add_ram(L.BOOT_ROM, L.BOOT_ROM_SIZE)
        self.mem.add_ram(L.RAM, c.ram_size)
        # RAM first: a hart maps the regions when it is created
        self.harts.extend(Hart(i, self, mtime=self.clint.mtime) for i in range(c.harts))
        self.clint.connect(self.harts)
        self.plic = Plic(self.harts, L.PLIC_SOURCES)
        self.mmio.register(L.TEST_DEVICE, L.TEST_DEVICE_SIZE, SifiveTest(events), "test")
        self.mmio.register(L.CLINT, L.CLINT_SIZE, self.clint, "clint")
        self.mmio.register(L.PLIC, L.PLIC_SIZE, self.plic, "plic")
        self.serial: Serial16550 | None = None
        if serial is not None:
            self.serial = Serial16550(serial.write, self.plic.line(L.UART_IRQ))
            serial.set_receiver(self.serial.receive)
            self.mmio.register(L.UART, L.UART_SIZE, self.serial, "serial0")
        self._add_virtio()
        self._boot()

    def _add_virtio(self) -> None:
        if len(self.config.virtio) > L.VIRTIO_MMIO_SLOTS:
            raise BootError(f"at most {L.VIRTIO_MMIO_SLOTS} virtio-mmio devices")
        for slot in range(L.VIRTIO_MMIO_SLOTS):
            base = L.virtio_mmio_base(slot)
            if slot >= len(self.config.virtio):
                self.mmio.register(base, mmio_transport.WINDOW, EmptyVirtioSlot(), "virtio-mmio")
                continue
            device = create_virtio(self.config.virtio[slot], self.mem, self.host)
            self.virtio_devices.append(device)
            line = self.plic.line(L.VIRTIO_MMIO_IRQ + slot)
            transport = VirtioMmio(device, base, line, self.host.loop)
            self.mmio.register(base, mmio_transport.WINDOW, transport, f"virtio-mmio-{device.name}")

    def _boot(self) -> None:
        c = self.config
        plan = loader.load(self.mem, c.ram_size, bios=c.bios, kernel=c.kernel, initrd=c.initrd,
                           fdt_size=L.FDT_MAX_SIZE)  # fmt: skip
        tree = devicetree.build(
            devicetree.DeviceTreeConfig(c.ram_size, c.harts, c.append, plan.initrd)
        )
        dtb = tree.to_dtb(pad_to=L.FDT_MAX_SIZE)
        if len(dtb) > L.FDT_MAX_SIZE:
            raise BootError(f"the device tree ({len(dtb)} bytes) is larger than 1 MiB")
        self.mem.write(plan.fdt, dtb)
        self.mem.write(L.BOOT_ROM, boot_rom(plan.entry, plan.fdt, plan.kernel_entry))
        for hart in self.harts:
            hart.reset(L.BOOT_ROM)

    # -- PhysBus

    def ram_regions(self) -> list[tuple[int, memoryview]]:
        return [(r.gpa, memoryview(r.mapping)) for r in self.mem.regions]

    def mmio_read(self, addr: int, size: int) -> int:
        m = self.mmio.find(addr)
        if m is None or addr + size > m.end:
            raise AccessFault(addr)
        return m.device.read(addr - m.base, size) & ((1 << (8 * size)) - 1)

    def mmio_write(self, addr: int, size: int, value: int) -> None:
        m = self.mmio.find(addr)
        if m is None or addr + size > m.end:
            raise AccessFault(addr)
        m.device.write(addr - m.base, size, value & ((1 << (8 * size)) - 1))

    # -- life cycle

    def close(self) -> None:
        self.clint.close()
        for device in self.virtio_devices:
            close_virtio(device)
        self.virtio_devices.clear()
        self.mem.close()
