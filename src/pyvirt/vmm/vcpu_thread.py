"""One host thread per vCPU, living inside KVM_RUN and serving its exits.

Port I/O and MMIO exits are dispatched to the machine's buses right here, on
the vCPU thread (the devices on them are fast and never block on the guest).
To stop a vCPU, another thread sets immediate_exit and sends it SIGUSR1: KVM_RUN
returns EINTR whether the thread was already inside it or about to enter.

Pausing (`hold`) works the same way, but the thread parks instead of ending, and
only after a KVM_RUN that returned EINTR: KVM completes a port or MMIO read in
that last entry, so a parked vCPU's state is consistent for a snapshot.
immediate_exit is set and cleared under the thread's condition lock, so a hold
that races with the thread entering KVM_RUN is never lost.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import threading
from collections.abc import Callable

from pyvirt.hw.bus import Bus
from pyvirt.kvm import ExitReason, Vcpu, describe
from pyvirt.kvm.exits import IO_OUT
from pyvirt.machine.x86.cpu_dump import format_registers

log = logging.getLogger(__name__)

KICK_SIGNAL = signal.SIGUSR1

PR_SET_NAME = 15
_libc = ctypes.CDLL(None, use_errno=True)

_IGNORED_EXITS = {ExitReason.HLT, ExitReason.IRQ_WINDOW_OPEN}


def _name_os_thread(name: str) -> None:
    """Show the thread as e.g. "CPU 0/KVM" in ps and top, as QEMU's vCPU threads are."""
    with contextlib.suppress(OSError, AttributeError):
        _libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def install_kick_handler() -> None:
    """A no-op handler: the signal only has to interrupt KVM_RUN (main thread only)."""
    signal.signal(KICK_SIGNAL, lambda signum, frame: None)


class VcpuThread(threading.Thread):
    """Runs `vcpu` until stopped; reports fatal exits through `on_fatal(report)`."""

    def __init__(
        self,
        vcpu: Vcpu,
        pio: Bus,
        mmio: Bus,
        *,
        on_fatal: Callable[[str], None],
        on_system_event: Callable[[int], None],
        name: str,
        held: bool = False,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.vcpu = vcpu
        self.pio = pio
        self.mmio = mmio
        self.on_fatal = on_fatal
        self.on_system_event = on_system_event
        self.stopping = False
        self.exits = 0
        self._cond = threading.Condition()
        self._held = held
        self.parked = False

    def stop(self) -> None:
        """Ask the thread to leave KVM_RUN and end; safe from any thread."""
        with self._cond:
            self.stopping = True
            self.vcpu.immediate_exit = True
            self._cond.notify_all()
        self._kick()

    def hold(self) -> None:
        """Ask the thread to leave KVM_RUN and park until `release`; see `wait_parked`."""
        with self._cond:
            self._held = True
            self.vcpu.immediate_exit = True
        self._kick()

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()

    def wait_parked(self, timeout: float) -> bool:
        """Block until the thread is parked (or gone); False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self.parked or self.stopping or not self.is_alive(), timeout
            )

    def _park_if_held(self) -> None:
        with self._cond:
            if self._held and not self.stopping:
                self.parked = True
                self._cond.notify_all()
                self._cond.wait_for(lambda: not self._held or self.stopping)
                self.parked = False
            if not self.stopping:
                self.vcpu.immediate_exit = False

    def _kick(self) -> None:
        ident = self.ident
        if ident is not None and self.is_alive() and ident != threading.get_ident():
            with contextlib.suppress(ProcessLookupError):
                signal.pthread_kill(ident, KICK_SIGNAL)

    def run(self) -> None:
        _name_os_thread(self.name)
        try:
            self._loop()
        except Exception as e:  # a VMM bug must end the VM with a report, not hang it
            log.exception("vCPU %d crashed", self.vcpu.id)
            self.on_fatal(f"vCPU {self.vcpu.id}: internal error in the VMM: {e!r}")

    def _loop(self) -> None:
        vcpu = self.vcpu
        page = vcpu.page
        pio_read, pio_write = self.pio.read, self.pio.write
        self._park_if_held()  # -S: held before the first instruction
        while not self.stopping:
            reason = vcpu.run()
            self.exits += 1
            if reason == ExitReason.IO:
                direction, size, port, count, offset = vcpu.io_exit()
                end = offset + size * count
                if count == 1:  # the common case, without the loop
                    if direction == IO_OUT:
                        pio_write(port, size, int.from_bytes(page[offset:end], "little"))
                    else:
                        page[offset:end] = pio_read(port, size).to_bytes(size, "little")
                elif direction == IO_OUT:
                    for at in range(offset, end, size):
                        pio_write(port, size, int.from_bytes(page[at : at + size], "little"))
                else:
                    for at in range(offset, end, size):
                        page[at : at + size] = pio_read(port, size).to_bytes(size, "little")
            elif reason == ExitReason.MMIO:
                self._mmio()
            elif reason == ExitReason.INTR:
                self._park_if_held()
            elif reason in _IGNORED_EXITS:
                continue
            elif reason == ExitReason.SYSTEM_EVENT:
                self.on_system_event(self.vcpu.run_page.exit.system_event.type)
            else:
                self._fatal(reason)
                return

    def _mmio(self) -> None:
        m = self.vcpu.run_page.exit.mmio
        length = min(m.len, 8)
        if m.is_write:
            value = int.from_bytes(bytes(m.data[:length]), "little")
            self.mmio.write(m.phys_addr, length, value)
        else:
            value = self.mmio.read(m.phys_addr, length)
            for i, byte in enumerate(value.to_bytes(length, "little")):
                m.data[i] = byte

    def _fatal(self, reason: int) -> None:
        what = describe(self.vcpu.run_page)
        if reason == ExitReason.SHUTDOWN:
            what = f"triple fault ({what})"
        try:
            dump = format_registers(self.vcpu.get_regs(), self.vcpu.get_sregs())
        except OSError as e:
            dump = f"(registers unavailable: {e})"
        self.on_fatal(f"vCPU {self.vcpu.id}: {what}\n{dump}")
