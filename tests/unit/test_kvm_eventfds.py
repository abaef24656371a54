"""ioeventfd, irqfd, GSI routing and KVM_SIGNAL_MSI on the real /dev/kvm.

A few real-mode instructions write to a port and to an MMIO address; the
ioeventfds registered there must swallow the writes they match (the guest
does not exit) and count them, and let the others exit to us as usual.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pyvirt.kvm import Cap, ExitReason, Kvm, Vcpu, Vm
from pyvirt.kvm.eventfd import EventFd
from pyvirt.kvm.gsi_routing import GsiRouter, default_irqchip_entries, msi_entry
from pyvirt.memory import GuestMemory

pytestmark = pytest.mark.kvm

CODE_ADDR = 0x1000
PORT = 0x500
MMIO_ADDR = 0xD0000  # above the 64 KiB of RAM: an MMIO write
# mov dx, 0x500; mov ax, 0x1234; out dx, ax; mov ax, 0x5678; out dx, ax;
# mov bx, 0xd000; mov ds, bx; mov word [0], 0x42; hlt
CODE = bytes.fromhex("ba0005 b83412 ef b87856 ef bb00d0 8edb c70600004200 f4")


@pytest.fixture
def vm(kvm: Kvm) -> Iterator[Vm]:
    vm = kvm.create_vm()
    yield vm
    vm.close()


def _real_mode_vcpu(vm: Vm, mem: GuestMemory) -> Vcpu:
    region = mem.add_ram(0, 0x10000)
    vm.set_user_memory_region(0, 0, 0x10000, region.host_addr)
    mem.write(CODE_ADDR, CODE)
    vcpu = vm.create_vcpu(0)
    sregs = vcpu.get_sregs()
    for seg in (sregs.cs, sregs.ds, sregs.es, sregs.ss):
        seg.base, seg.selector = 0, 0
    vcpu.set_sregs(sregs)
    regs = vcpu.get_regs()
    regs.rip, regs.rflags = CODE_ADDR, 2
    vcpu.set_regs(regs)
    return vcpu


def test_ioeventfds_swallow_matching_writes(vm: Vm) -> None:
    if vm.check_extension(Cap.IOEVENTFD) <= 0:
        pytest.skip("no KVM_CAP_IOEVENTFD")
    vm.set_tss_addr(0xFFFBD000)
    mem = GuestMemory()
    vcpu = _real_mode_vcpu(vm, mem)
    pio, mmio = EventFd(), EventFd()
    try:
        vm.ioeventfd(pio.fd, PORT, 2, datamatch=0x1234, pio=True)
        vm.ioeventfd(mmio.fd, MMIO_ADDR, 2)
        # The first `out` matches its data and never exits; the second does not.
        assert vcpu.run() == ExitReason.IO
        assert vcpu.run_page.exit.io.port == PORT
        assert bytes(vcpu.io_data()) == (0x5678).to_bytes(2, "little")
        assert pio.drain() == 1
        # The MMIO write is swallowed too: the next exit is the hlt.
        assert vcpu.run() == ExitReason.HLT
        assert mmio.drain() == 1
        assert pio.drain() == 0

        # Deassigned, the first `out` exits like any other.
        vm.ioeventfd(pio.fd, PORT, 2, datamatch=0x1234, pio=True, deassign=True)
        vm.ioeventfd(mmio.fd, MMIO_ADDR, 2, deassign=True)
        regs = vcpu.get_regs()
        regs.rip = CODE_ADDR
        vcpu.set_regs(regs)
        assert vcpu.run() == ExitReason.IO
        assert bytes(vcpu.io_data()) == (0x1234).to_bytes(2, "little")
        assert vcpu.run() == ExitReason.IO
        assert vcpu.run() == ExitReason.MMIO
        assert vcpu.run_page.exit.mmio.phys_addr == MMIO_ADDR
        assert pio.drain() == 0 and mmio.drain() == 0
    finally:
        vcpu.close()
        pio.close()
        mmio.close()
        mem.close()


def test_deassigning_an_unknown_ioeventfd_fails(vm: Vm) -> None:
    with EventFd() as efd, pytest.raises(OSError, match="KVM_IOEVENTFD"):
        vm.ioeventfd(efd.fd, MMIO_ADDR, 4, deassign=True)


def test_gsi_routing_irqfd_and_signal_msi(vm: Vm) -> None:
    if vm.check_extension(Cap.IRQ_ROUTING) <= 0 or vm.check_extension(Cap.IRQFD) <= 0:
        pytest.skip("no KVM_CAP_IRQ_ROUTING or KVM_CAP_IRQFD")
    vm.create_irqchip()
    router = GsiRouter(vm)
    gsi = router.add_msi_route(0xFEE00000, 0x4041)
    assert gsi == 24
    with EventFd() as efd:
        router.assign_irqfd(gsi, efd.fd)
        with pytest.raises(OSError, match="KVM_IRQFD"):  # one irqfd per eventfd
            router.assign_irqfd(gsi, efd.fd)
        router.update_msi_route(gsi, 0xFEE00000, 0x4042)
        router.deassign_irqfd(gsi, efd.fd)
    router.remove_msi_route(gsi)
    assert router.add_msi_route(0xFEE00000, 0x4043) == gsi  # released GSIs are reused
    # The table as a whole: the default irqchip routes plus an MSI.
    vm.set_gsi_routing([*default_irqchip_entries(), msi_entry(30, 0xFEE00000, 0x30)])
    vm.irq_line(4, True)  # the legacy routes still work
    vm.irq_line(4, False)
    if vm.check_extension(Cap.SIGNAL_MSI) > 0:
        # No vCPU yet: nobody receives it, which is not an error.
        assert vm.signal_msi(0xFEE00000, 0x4030) is False


def test_eventfd_counts_and_drains() -> None:
    with EventFd() as efd:
        assert efd.drain() == 0
        efd.signal()
        efd.signal(2)
        assert efd.drain() == 3
        assert efd.drain() == 0
