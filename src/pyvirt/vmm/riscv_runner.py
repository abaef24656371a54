"""The riscv64 VMM: the x86 VMM's life cycle, chardevs and QMP around a virt machine.

Each hart runs in its own thread (HartThread) on the software CPU; the devices
live on the main loop as on x86. Pausing parks the harts and freezes the
CLINT's clock. Snapshots are not supported on this machine yet.
"""

from __future__ import annotations

from typing import Any

from pyvirt.hw.virtio.device import VirtioDevice
from pyvirt.machine.riscv.virt import VirtConfig, VirtMachine
from pyvirt.tcg.riscv.hart import Hart
from pyvirt.vmm.hart_thread import HartThread
from pyvirt.vmm.qmp.errors import QmpError
from pyvirt.vmm.runner import Outcome, Vmm

PROG = "pyvirt-qemu-riscv64"
PRIVILEGE = {0: "U", 1: "S", 3: "M"}


class RiscvVmm(Vmm):
    prog = PROG

    def __init__(self, config: Any) -> None:
        super().__init__(config, None)
        self.virt: VirtMachine | None = None

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
        host = self.host_resources(loop)
        self.virt = virt = VirtMachine(
            self._virt_config(), self.chardevs[serial] if serial else None, self, host
        )
        harts = [
            HartThread(hart, on_fatal=self._fatal, name=f"CPU {hart.hart_id}/TCG", held=self.paused)
            for hart in virt.harts
        ]
        self.threads = harts  # type: ignore[assignment]  # the base class parks either kind
        self.boots += 1
        if self.paused:
            virt.clint.freeze()
        try:
            for thread in harts:
                thread.start()
            return await self._done
        finally:
            for thread in harts:
                thread.stop()
            for thread in harts:
                await loop.run_in_executor(None, thread.join)
            if serial:
                self.chardevs[serial].set_receiver(None)
            virt.close()
            self.virt = None
            self.threads = []

    # --- pause and resume: the base class's, with the CLINT as the guest's clock

    def _virtio_devices(self) -> list[VirtioDevice]:
        return self.virt.virtio_devices if self.virt is not None else []

    def _freeze_clock(self) -> None:
        if self.virt is not None:
            self.virt.clint.freeze()

    def _thaw_clock(self) -> None:
        if self.virt is not None:
            self.virt.clint.thaw()

    async def cpu_registers(self, index: int) -> str:
        return await self.on_cpu(index, lambda thread: format_hart(thread.hart))

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
