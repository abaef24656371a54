"""A clean guest shutdown through the vmm driver, on the Linux guest (slow: one boot per VMM)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pyvirt.drivers.base import DomainState, LifecycleEvent
from pyvirt.drivers.reasons import ShutdownDetail, ShutoffReason, StoppedDetail
from pyvirt.drivers.vmm import VmmDriver
from tests.linux.conftest import LinuxGuest, linux_guest
from tests.linux.guest import BOOT_TIMEOUT, QEMU_APPEND, READY

from .test_vmm_driver import emulator, kind

__all__ = ["kind", "linux_guest"]
pytestmark = [pytest.mark.kvm, pytest.mark.linux]


def test_shutdown_powers_the_guest_off(kind: str, tmp_path: Path, linux_guest: LinuxGuest) -> None:
    cmdline = linux_guest.cmdline + ("" if kind == "pyvirt" else " " + QEMU_APPEND)
    xml = f"""<domain type='kvm'><name>linux</name><memory unit='MiB'>256</memory>
      <os><type>hvm</type><kernel>{linux_guest.vmlinux}</kernel>
      <initrd>{linux_guest.initramfs}</initrd><cmdline>{cmdline}</cmdline></os>
      <features><acpi/><apic/></features><cpu mode='host-passthrough'/>
      <devices><console type='pty'/></devices></domain>"""

    async def main() -> None:
        d = VmmDriver("qemu:///session", state_dir=tmp_path, emulator=emulator(kind))
        events: list[tuple[LifecycleEvent, int]] = []
        d.subscribe(lambda ref, ev, detail: events.append((ev, detail)))
        ref = await d.create(await d.define_xml(xml, 0), 0)
        console = await d.open_console(ref, None, 0)
        seen = b""
        while READY.encode() not in seen:
            seen += await asyncio.wait_for(console.reader.read(4096), BOOT_TIMEOUT)
        await d.shutdown(ref, 0)
        for _ in range(1200):
            if (await d.state(ref))[0] == DomainState.SHUTOFF:
                break
            await asyncio.sleep(0.1)
        console.writer.close()
        assert await d.state(ref) == (DomainState.SHUTOFF, ShutoffReason.SHUTDOWN)
        assert events[-2:] == [
            (LifecycleEvent.SHUTDOWN, ShutdownDetail.GUEST),
            (LifecycleEvent.STOPPED, StoppedDetail.SHUTDOWN),
        ]
        await d.close()

    asyncio.run(main())
