"""The PC's PCI wiring on the real /dev/kvm, without running a guest: config mechanism #1
and the ECAM on the machine's buses, 0xCF9 still resetting, the e820 hole, and virtio-pci
devices with their MSI routes and ioeventfds accepted by KVM."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.hw.pci import PciError
from pyvirt.hw.pci import registers as R
from pyvirt.hw.pci.msix import CONTROL_ENABLE
from pyvirt.hw.virtio.device import ID_RNG, VirtioDevice
from pyvirt.kvm import Kvm
from pyvirt.machine.host import HostResources
from pyvirt.machine.x86 import layout as L
from pyvirt.machine.x86.e820 import E820Entry, E820Type
from pyvirt.machine.x86.pc import PcConfig, PcMachine
from pyvirt.memory import GuestMemory

pytestmark = pytest.mark.kvm


class Events:
    def __init__(self) -> None:
        self.resets = 0

    def power_off(self) -> None:
        pass

    def reset(self) -> None:
        self.resets += 1

    def debug_exit(self, status: int) -> None:
        pass


class Rng(VirtioDevice):
    device_id = ID_RNG
    name = "rng"

    def __init__(self, mem: GuestMemory) -> None:
        super().__init__(mem, [64], 0)

    def queue_notify(self, index: int) -> None:
        pass


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def machine(
    kvm: Kvm, tmp_path: Path, loop: asyncio.AbstractEventLoop, events: Events
) -> Iterator[PcMachine]:
    bios = tmp_path / "bios.bin"
    bios.write_bytes(b"\xf4" * 0x10000)  # hlt: never run here
    host = HostResources(loop, concurrent.futures.ThreadPoolExecutor(1))
    m = PcMachine(kvm, PcConfig(ram_size=64 << 20, bios=str(bios)), [], events, host)
    yield m
    m.close()


def config_dword(machine: PcMachine, slot: int, offset: int) -> int:
    machine.pio.write(0xCF8, 4, 1 << 31 | slot << 11 | offset)
    return machine.pio.read(0xCFC, 4)


def test_the_host_bridge_answers_on_both_mechanisms(machine: PcMachine) -> None:
    assert config_dword(machine, 0, R.VENDOR_ID) == 0x00081B36
    assert config_dword(machine, 0, R.REVISION_ID) >> 8 == 0x060000
    assert machine.mmio.read(L.PCI_ECAM_ADDR, 4) == 0x00081B36
    assert config_dword(machine, 1, R.VENDOR_ID) == 0xFFFFFFFF  # nothing in slot 1 yet


def test_port_0xcf9_still_resets(machine: PcMachine, events: Events) -> None:
    machine.pio.write(0xCF8, 4, 1 << 31)
    machine.pio.write(0xCF9, 1, 0x06)
    assert events.resets == 1
    assert machine.pio.read(0xCF8, 4) == 1 << 31


def test_the_ecam_is_reserved_in_e820(machine: PcMachine) -> None:
    assert E820Entry(L.PCI_ECAM_ADDR, L.PCI_ECAM_SIZE, E820Type.RESERVED) in machine._e820()


def test_virtio_pci_devices_get_slots_bars_routes_and_ioeventfds(machine: PcMachine) -> None:
    first = machine.add_virtio_pci(Rng(machine.mem))
    second = machine.add_virtio_pci(Rng(machine.mem), slot=5)
    assert (first.slot, second.slot) == (1, 5)
    assert config_dword(machine, 5, R.VENDOR_ID) == 0x1044_1AF4
    assert config_dword(machine, 5, R.INTERRUPT_LINE) & 0xFF == 16 + 5 % 8
    with pytest.raises(PciError, match="slot 5 is already taken"):
        machine.add_virtio_pci(Rng(machine.mem), slot=5)
    for t in (first, second):
        bar4, bar1 = t.bars[4], t.bars[1]
        assert bar4 is not None and bar1 is not None
        assert bar4.address is not None and bar4.address >= L.HIGHMEM_START
        assert bar1.address is not None
        assert L.PCI_MMIO32_START <= bar1.address < L.PCI_MMIO32_END
        assert len(t._ioeventfds) == 1  # KVM took the queue's notify ioeventfd

    # The guest's driver enables MSI-X and unmasks vector 1: KVM gets a route and an irqfd.
    bar1 = first.bars[1]
    assert bar1 is not None and bar1.address is not None
    machine.mmio.write(bar1.address + 16, 4, 0xFEE00000)
    machine.mmio.write(bar1.address + 24, 4, 0x4031)
    machine.pio.write(0xCF8, 4, 1 << 31 | 1 << 11 | first.msix.cap_offset)
    machine.pio.write(0xCFE, 2, CONTROL_ENABLE)
    machine.mmio.write(bar1.address + 28, 4, 0)
    assert list(first.msix.routes) == [1]
    first.msix.notify(1)  # an irqfd write: no vCPU yet, so nobody takes it, and no error
