"""The riscv64 VMM: the x86 VMM's life cycle, chardevs and QMP around a virt machine.

Each hart runs in its own thread (HartThread) on the software CPU; the devices
live on the main loop as on x86. Pausing parks the harts and freezes the
CLINT's clock. Snapshots are not supported on this machine yet.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pyvirt.machine.host import HostResources
from pyvirt.machine.riscv.virt import VirtConfig, VirtMachine
from pyvirt.tcg.riscv.hart import Hart
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.hart_thread import HartThread
from pyvirt.vmm.qmp.errors import QmpError
from pyvirt.vmm.runner import PARK_TIMEOUT, Outcome, Vmm

PROG = "pyvirt-qemu-riscv64"
PRIVILEGE = {0: "U", 1: "S", 3: "M"}


class RiscvVmm(Vmm):
    prog = PROG

    def __init__(self, config: Any) -> None:
        super().__init__(config, None)
        self.virt: VirtMachine | None = None
        self.harts: list[HartThread] = []

    def _virt_config(self) -> VirtConfig:
        c = self.config
        return VirtConfig(
            ram_size=c.ram_size, harts=c.cpus, kernel=c.kernel, initrd=c.initrd,
            append=c.append, bios=c.bios, virtio=tuple(self.virtio),
        )  # fmt: skip

    def _send_break(self) -> None:
        if self.virt is not None and self.virt.serial is not None:
            self.virt.serial.send_break()

    async def _run_once(self) -> Outcome:
        assert self._loop is not None
        loop = self._loop
        self._outcome = None
        self._done = loop.create_future()
        serial = self.config.serials[0] if self.config.serials else None
        host = HostResources(loop, self.executor, self.chardevs, self.images, self.netdevs)
        self.virt = virt = VirtMachine(
            self._virt_config(), self.chardevs[serial] if serial else None, self, host
        )
        self.harts = [
            HartThread(hart, on_fatal=self._fatal, name=f"CPU {hart.hart_id}/TCG", held=self.paused)
            for hart in virt.harts
        ]
        self.threads = list(self.harts)
        self.boots += 1
        if self.paused:
            virt.clint.freeze()
        try:
            for thread in self.harts:
                thread.start()
            return await self._done
        finally:
            for thread in self.harts:
                thread.stop()
            for thread in self.harts:
                await loop.run_in_executor(None, thread.join)
            if serial:
                self.chardevs[serial].set_receiver(None)
            virt.close()
            self.virt = None
            self.harts = self.threads = []

    # --- pause and resume -------------------------------------------------------

    def _wait_parked(self) -> None:
        for thread in self.harts:
            if not thread.wait_parked(PARK_TIMEOUT):
                raise VmmError(f"{thread.name} did not stop")

    async def pause(self, state: str = "paused") -> None:
        assert self._state_lock is not None
        async with self._state_lock:
            if not self.paused:
                self.paused = True
                for thread in self.harts:
                    thread.hold()
                await asyncio.get_running_loop().run_in_executor(None, self._wait_parked)
                virt = self.virt
                if virt is not None:
                    for device in virt.virtio_devices:
                        device.suspend()
                    while any(device.busy() for device in virt.virtio_devices):
                        await asyncio.sleep(0.001)
                    virt.clint.freeze()
                self.emit("STOP")
            self.run_state = state

    async def resume(self) -> None:
        assert self._state_lock is not None
        async with self._state_lock:
            if not self.paused:
                return
            virt = self.virt
            if virt is not None:
                virt.clint.thaw()
                for device in virt.virtio_devices:
                    device.resume()
            self.paused = False
            self.run_state = "running"
            for thread in self.harts:
                thread.release()
            self.emit("RESUME")

    async def cpu_registers(self, index: int) -> str:
        thread = self.harts[index]
        loop = asyncio.get_running_loop()
        if self.paused:
            return format_hart(thread.hart)
        thread.hold()
        try:
            await loop.run_in_executor(None, thread.wait_parked, PARK_TIMEOUT)
            return format_hart(thread.hart)
        finally:
            if not self.paused:
                thread.release()

    def press_power_button(self) -> None:
        self.emit("POWERDOWN")  # the virt board has no power button: as QEMU, only the event

    def start_migration(self, uri: str) -> None:
        raise QmpError("snapshots are not supported on the riscv64 virt machine")


def format_hart(hart: Hart) -> str:
    """`info registers` for a hart: pc, privilege, x0..x31 and the main CSRs."""
    state = hart.dump()
    lines = [f" pc       {state.pop('pc'):016x}",
             f" priv     {PRIVILEGE.get(state.pop('priv'), '?')}"]  # fmt: skip
    regs = [f"x{n:<2} {state.pop(f'x{n}'):016x}" for n in range(32)]
    lines += ["  ".join(regs[i : i + 4]) for i in range(0, 32, 4)]
    lines += [f" {name:<8} {value:016x}" for name, value in state.items()]
    return "\n".join(lines)
