"""The `pc` machine on KVM: RAM, in-kernel interrupt controllers and PIT, legacy devices,
a PCI host bridge (bus 0, ECAM, MSI-X through KVM's GSI routing), firmware tables, and the
boot CPU pointed at the kernel.

PCI devices are added after construction and before the vCPUs start, with
`add_pci_device` or, for a virtio device, `add_virtio_pci`.

A reboot builds a fresh PcMachine: every piece of guest-visible state (RAM,
irqchip, vCPUs, devices) starts over, while the VMM keeps its chardevs.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pyvirt.hw.acpi_pm import AcpiPm, AcpiPmPorts
from pyvirt.hw.bus import Bus, PortWindow, Sink
from pyvirt.hw.debug_exit import DebugExit
from pyvirt.hw.fw_cfg import FwCfg
from pyvirt.hw.i8042 import I8042
from pyvirt.hw.irq import SharedIrq
from pyvirt.hw.pci import ConfigAddress, ConfigData, Ecam, HostBridge, PciBus, PciDevice
from pyvirt.hw.pci.host import CONFIG_ADDRESS_PORT, CONFIG_DATA_LEN, CONFIG_DATA_PORT
from pyvirt.hw.reset_control import ResetControl
from pyvirt.hw.rtc import CENTURY, CmosRtc
from pyvirt.hw.serial import Serial16550
from pyvirt.hw.virtio import mmio as mmio_transport
from pyvirt.hw.virtio.device import VirtioDevice
from pyvirt.hw.virtio.mmio import VirtioMmio
from pyvirt.hw.virtio.pci import VirtioPciTransport
from pyvirt.kvm import Kvm, Vcpu, Vm
from pyvirt.kvm import numbers as kn
from pyvirt.kvm.gsi_routing import GsiRouter
from pyvirt.kvm.structs import CpuidEntry2, LapicState
from pyvirt.machine.host import CharBackend, HostResources, VirtioConfig
from pyvirt.machine.ioeventfds import IoEventFds
from pyvirt.machine.virtio_factory import close_virtio, create_virtio
from pyvirt.memory import GuestMemory, host_address

from . import cpuid, e820, pc_pci
from . import entry as cpu_entry
from . import layout as L
from .acpi import AcpiConfig, IsaResources, VirtioMmioResources, build_acpi_tables
from .boot import load_kernel, read_kernel
from .loader import BootError, BootInput
from .mptable import build_mptable
from .pc_interrupts import pci_intx_gsi

log = logging.getLogger(__name__)

COM_PORTS = ((0x3F8, 4), (0x2F8, 3), (0x3E8, 4), (0x2E8, 3))
SCI_IRQ = 9
VIRTIO_MMIO_IRQS = (5, 6, 7, 10, 11, 12, 14, 15)  # ISA lines no PC device of ours uses
FW_CFG_PORT = 0x510
POST_PORT = 0x80
RESET_CONTROL_PORT = 0xCF9
BIOS_MAX = 16 << 20
ISA_BIOS_MAX = 128 << 10

MSR_IA32_MISC_ENABLE = 0x1A0
MSR_MTRR_DEF_TYPE = 0x2FF
MISC_ENABLE_FAST_STRING = 1
MTRR_ENABLE_WRITEBACK = (1 << 11) | 6

LAPIC_LVT_LINT0 = 0x350
LAPIC_LVT_LINT1 = 0x360
DELIVERY_EXTINT = 7 << 8
DELIVERY_NMI = 4 << 8


class PowerEvents(Protocol):
    """What the board asks of the VMM when the guest powers off, resets or exits."""

    def power_off(self) -> None: ...

    def reset(self) -> None: ...

    def debug_exit(self, status: int) -> None: ...


@dataclass
class PcConfig:
    ram_size: int
    cpus: int = 1
    cpu: cpuid.CpuSpec | None = None
    kernel: str | None = None
    initrd: str | None = None
    append: str = ""
    bios: str | None = None
    nographic: bool = False
    debug_exits: tuple[tuple[int, int], ...] = ()
    uuid: bytes = bytes(16)
    virtio: tuple[VirtioConfig, ...] = ()
    incoming: bool = False  # RAM and CPU state will come from a snapshot: nothing to boot


class KvmIoEventFds:
    """MMIO ioeventfds for PCI devices: any write length where KVM supports it, else 2 bytes
    (a virtio notification's width; other widths still reach the device as exits)."""

    def __init__(self, vm: Vm) -> None:
        self.vm = vm
        self.length = 0 if vm.check_extension(kn.Cap.IOEVENTFD_ANY_LENGTH) > 0 else 2

    def add_mmio_ioeventfd(self, fd: int, addr: int) -> None:
        self.vm.ioeventfd(fd, addr, self.length)

    def remove_mmio_ioeventfd(self, fd: int, addr: int) -> None:
        self.vm.ioeventfd(fd, addr, self.length, deassign=True)


class PcMachine:
    def __init__(
        self,
        kvm: Kvm,
        config: PcConfig,
        serial_lines: list[CharBackend | None],
        events: PowerEvents,
        host: HostResources,
    ) -> None:
        self.kvm = kvm
        self.config = config
        self.events = events
        self.pio = Bus("ioport")
        self.mmio = Bus("mmio")
        self.mem = GuestMemory()
        self.vcpus: list[Vcpu] = []
        self.serials: list[Serial16550] = []
        self.com_ports: list[tuple[int, int]] = []  # (port, IRQ) of each UART present
        self.entry: cpu_entry.EntryState | None = None
        self._rom: mmap.mmap | None = None
        self._irqs: dict[int, SharedIrq] = {}
        self.host = host
        self.virtio_devices: list[VirtioDevice] = []
        self.virtio_mmio: list[tuple[int, int, VirtioMmio]] = []  # (base, IRQ, transport)
        self.pci: PciBus | None = None
        self.vm = kvm.create_vm()
        self.ioeventfds = IoEventFds(self.vm, host.loop)
        try:
            self._build(serial_lines)
        except BaseException:
            self.close()
            raise

    # --- construction ---------------------------------------------------------

    def _build(self, serial_lines: list[CharBackend | None]) -> None:
        vm = self.vm
        vm.set_identity_map_addr(L.IDENTITY_MAP_ADDR)
        vm.set_tss_addr(L.TSS_ADDR)
        vm.create_irqchip()
        vm.create_pit2()
        self._add_ram()
        self._add_devices(serial_lines)
        self._add_virtio()
        if self.config.kernel is not None:
            self._direct_boot()
        elif self.config.bios is not None:
            self._map_bios(self.config.bios)
        elif not self.config.incoming:
            raise BootError(
                "nothing to boot: give -kernel (pyvirt has no built-in firmware) or -bios"
            )
        self._create_vcpus()

    def _add_ram(self) -> None:
        for slot, (gpa, size) in enumerate(e820.ram_layout(self.config.ram_size)):
            region = self.mem.add_ram(gpa, size)
            self.vm.set_user_memory_region(slot, gpa, size, region.host_addr)

    def irq_line(self, irq: int) -> Callable[[bool], None]:
        """A new source on interrupt line `irq` (GSI); sources sharing a line are OR-ed."""
        if irq not in self._irqs:
            self._irqs[irq] = SharedIrq(lambda level, irq=irq: self.vm.irq_line(irq, level))
        return self._irqs[irq].source()

    def _add_devices(self, serial_lines: list[CharBackend | None]) -> None:
        line = self.irq_line
        for index, backend in enumerate(serial_lines[: len(COM_PORTS)]):
            if backend is None:
                continue
            port, irq = COM_PORTS[index]
            self.com_ports.append((port, irq))
            uart = Serial16550(backend.write, line(irq))
            backend.set_receiver(uart.receive)
            self.pio.register(port, 8, uart, f"serial{index}")
            self.serials.append(uart)

        self.i8042 = I8042(self.events.reset)
        self.pio.register(0x60, 5, self.i8042, "i8042")
        self.rtc = CmosRtc()
        low, *high = e820.ram_layout(self.config.ram_size)
        self.rtc.set_memory_size(low[1], high[0][1] if high else 0)
        self.pio.register(0x70, 2, self.rtc, "rtc")
        self.pio.register(POST_PORT, 1, Sink(), "post")
        self.pio.register(RESET_CONTROL_PORT, 1, ResetControl(self.events.reset), "reset")

        pm_ports = AcpiPmPorts()
        self.acpi_pm = AcpiPm(pm_ports, on_poweroff=self.events.power_off, set_irq=line(SCI_IRQ))
        for base, length in pm_ports.ranges():
            self.pio.register(base, length, PortWindow(self.acpi_pm, base), "acpi-pm")

        self.fw_cfg = FwCfg(
            cpus=self.config.cpus,
            max_cpus=self.config.cpus,
            ram_size=self.config.ram_size,
            nographic=self.config.nographic,
            uuid=self.config.uuid,
        )
        self.fw_cfg.add_file("etc/e820", e820.pack_fw_cfg(self._e820()))
        self.pio.register(FW_CFG_PORT, 2, self.fw_cfg, "fw_cfg")

        for iobase, iosize in self.config.debug_exits:
            self.pio.register(iobase, iosize, DebugExit(self.events.debug_exit), "isa-debug-exit")
        self._add_pci()

    def _add_pci(self) -> None:
        """Bus 0 with the host bridge at 00.0, reached through ports 0xCF8/0xCFC and the ECAM."""
        vm = self.vm
        msi = None
        if vm.check_extension(kn.Cap.IRQ_ROUTING) > 0 and vm.check_extension(kn.Cap.IRQFD) > 0:
            msi = GsiRouter(vm)
        ioeventfds = KvmIoEventFds(vm) if vm.check_extension(kn.Cap.IOEVENTFD) > 0 else None
        self.pci_windows = pc_pci.windows(
            self.config.ram_size, pc_pci.phys_bits(self.kvm.supported_cpuid())
        )
        self.pci = PciBus(
            self.mmio,
            self.pio,
            self.pci_windows,
            intx_gsi=pci_intx_gsi,
            irq_line=self.irq_line,
            msi=msi,
            ioeventfds=ioeventfds,
        )
        self.pci.add(HostBridge(), slot=0)
        address = ConfigAddress()
        # One port: the bus decodes an access by its first port, so the dword at 0xCF8 reaches
        # the address register while a byte at 0xCF9 still reaches the reset register.
        self.pio.register(CONFIG_ADDRESS_PORT, 1, address, "pci-config-address")
        data = ConfigData(self.pci, address)
        self.pio.register(CONFIG_DATA_PORT, CONFIG_DATA_LEN, data, "pci-config-data")
        self.mmio.register(L.PCI_ECAM_ADDR, L.PCI_ECAM_SIZE, Ecam(self.pci), "pci-ecam")

    def add_pci_device(self, device: PciDevice, slot: int | None = None) -> int:
        """Plug `device` into bus 0 (the next free slot by default); returns its slot.

        Raises PciError (a ValueError) when the slot is taken or the BAR windows are full.
        """
        assert self.pci is not None
        return self.pci.add(device, slot)

    def add_virtio_pci(self, device: VirtioDevice, slot: int | None = None) -> VirtioPciTransport:
        """Put `device` behind a modern virtio-pci function on bus 0; returns the transport."""
        transport = VirtioPciTransport(device, self.host.loop)
        try:
            self.add_pci_device(transport, slot)
        except BaseException:
            transport.close()
            raise
        return transport

    def _add_virtio(self) -> None:
        for cfg in self.config.virtio:
            device = create_virtio(cfg, self.mem, self.host)
            self.virtio_devices.append(device)
            if cfg.transport == "mmio":
                self.add_virtio_mmio(device)
            else:
                self.add_virtio_pci(device, cfg.slot)

    def add_virtio_mmio(self, device: VirtioDevice) -> VirtioMmio:
        """Put `device` in the next virtio-mmio window, with its own interrupt line."""
        index = len(self.virtio_mmio)
        if index >= len(VIRTIO_MMIO_IRQS):
            raise BootError(f"at most {len(VIRTIO_MMIO_IRQS)} virtio-mmio devices")
        base = L.VIRTIO_MMIO_BASE + index * mmio_transport.WINDOW
        irq = VIRTIO_MMIO_IRQS[index]
        transport = VirtioMmio(device, base, self.irq_line(irq), self.host.loop)
        self.mmio.register(base, mmio_transport.WINDOW, transport, f"virtio-mmio-{device.name}")
        self.virtio_mmio.append((base, irq, transport))
        for addr, length, value, queue in transport.notify_points():
            self.ioeventfds.add(addr, length, value, lambda q=queue: device.kick(q))
        return transport

    def _e820(self) -> list[e820.E820Entry]:
        return e820.build(self.config.ram_size, reserved=[(L.PCI_ECAM_ADDR, L.PCI_ECAM_SIZE)])

    def _firmware_tables(self) -> int:
        """Write the ACPI tables and the MP table; returns the RSDP address."""
        serial_res = tuple(IsaResources(port, 8, irq) for port, irq in self.com_ports)
        tables = build_acpi_tables(
            AcpiConfig(
                num_cpus=self.config.cpus,
                sci_irq=SCI_IRQ,
                serial_ports=serial_res,
                rtc_century_index=CENTURY,
                pci=pc_pci.acpi_host(self.pci_windows),
                virtio_mmio=tuple(
                    VirtioMmioResources(base, mmio_transport.WINDOW, irq)
                    for base, irq, _ in self.virtio_mmio
                ),
            ),
            L.ACPI_TABLES_ADDR,
        )
        if L.ACPI_TABLES_ADDR + len(tables.blob) > L.MPTABLE_ADDR:
            raise BootError(f"ACPI tables too large for {self.config.cpus} CPUs")
        self.mem.write(L.ACPI_TABLES_ADDR, tables.blob)
        self.mem.write(L.MPTABLE_ADDR, build_mptable(self.config.cpus, L.MPTABLE_ADDR))
        return tables.rsdp_addr

    def _direct_boot(self) -> None:
        assert self.config.kernel is not None
        rsdp = self._firmware_tables()
        inp = BootInput(
            self.mem,
            self.config.kernel,
            read_kernel(self.config.kernel),
            self.config.append,
            e820=self._e820(),
            rsdp_addr=rsdp,
        )
        self.entry = load_kernel(inp, self.config.initrd)
        log.info("booting %s: %s", self.config.kernel, self.entry.description)

    def _map_bios(self, path: str) -> None:
        try:
            image = Path(path).read_bytes()
        except OSError as e:
            raise BootError(f"could not load PC BIOS '{path}': {e.strerror}") from None
        if not image or len(image) % 0x10000 or len(image) > BIOS_MAX:
            raise BootError(
                f"PC BIOS '{path}' must be a multiple of 64 KiB, at most 16 MiB "
                f"(it is {len(image)} bytes)"
            )
        rom = mmap.mmap(-1, len(image), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        rom[:] = image
        self._rom = rom
        flags = kn.MEM_READONLY if self.kvm.check_extension(kn.Cap.READONLY_MEM) else 0
        slot = len(self.mem.regions)
        self.vm.set_user_memory_region(
            slot, L.FOUR_GIB - len(image), len(image), host_address(rom), flags
        )
        isa = image[-min(len(image), ISA_BIOS_MAX) :]  # the top also appears below 1 MiB
        self.mem.write(L.BIOS_END - len(isa), isa)

    def _cpuid_base(self) -> list[CpuidEntry2]:
        spec = self.config.cpu or cpuid.CpuSpec()
        entries = cpuid.apply_features(self.kvm.supported_cpuid(), spec)
        return cpuid.with_topology_leaves(entries)

    def _create_vcpus(self) -> None:
        base = self._cpuid_base()
        topo = cpuid.Topology(self.config.cpus)
        for index in range(self.config.cpus):
            vcpu = self.vm.create_vcpu(index)
            self.vcpus.append(vcpu)
            vcpu.set_cpuid(cpuid.for_vcpu(base, index, topo))
            vcpu.set_msrs(
                {
                    MSR_IA32_MISC_ENABLE: MISC_ENABLE_FAST_STRING,
                    MSR_MTRR_DEF_TYPE: MTRR_ENABLE_WRITEBACK,
                }
            )
            self._setup_lapic(vcpu, bsp=index == 0)
        if self.entry is not None:
            bsp = self.vcpus[0]
            sregs = bsp.get_sregs()
            regs = cpu_entry.apply(self.entry, self.mem, sregs)
            bsp.set_sregs(sregs)
            bsp.set_regs(regs)

    @staticmethod
    def _setup_lapic(vcpu: Vcpu, *, bsp: bool) -> None:
        """Virtual-wire mode, as a BIOS leaves it: the 8259 reaches the BSP through LINT0."""
        raw = bytearray(vcpu.get_lapic())
        lint0 = DELIVERY_EXTINT if bsp else DELIVERY_EXTINT | (1 << 16)
        struct.pack_into("<I", raw, LAPIC_LVT_LINT0, lint0)
        struct.pack_into("<I", raw, LAPIC_LVT_LINT1, DELIVERY_NMI)
        vcpu.set_lapic(LapicState.from_buffer_copy(raw))

    # --- life cycle -------------------------------------------------------------

    def close(self) -> None:
        for serial in self.serials:
            serial.output = _discard
        if self.pci is not None:
            self.pci.close()  # irqfds, ioeventfds and the main loop's readers go first
        self.ioeventfds.close()
        for device in self.virtio_devices:
            close_virtio(device)
        for vcpu in self.vcpus:
            vcpu.close()
        self.vcpus.clear()
        self.vm.close()
        self.mem.close()
        if self._rom is not None:
            with contextlib.suppress(BufferError):
                self._rom.close()


def _discard(data: bytes) -> None:
    pass
