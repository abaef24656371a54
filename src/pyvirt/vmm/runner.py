"""The VMM's life cycle: chardevs, the machine, its vCPU threads and the main loop.

The main thread runs an asyncio loop for chardev I/O (and, later, the monitor);
vCPU threads run the guest. Whatever ends a run (power-off, reset, debug exit,
a fatal exit, Ctrl-a x, a signal) is an Outcome; the first one wins, every vCPU
is kicked out of KVM_RUN at once, and the loop decides: reboot or exit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass

from pyvirt.block.driver import BlockDriver, BlockError
from pyvirt.block.open import open_image as block_open
from pyvirt.block.open import probe_format
from pyvirt.block.raw import RawImage
from pyvirt.kvm import Kvm
from pyvirt.kvm.exits import SystemEvent
from pyvirt.machine.host import HostResources
from pyvirt.machine.x86.pc import PcConfig, PcMachine
from pyvirt.net import NetBackend, open_backend
from pyvirt.vmm import chardev
from pyvirt.vmm.device_options import DriveSpec, machine_devices
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.options import VmmConfig
from pyvirt.vmm.vcpu_thread import VcpuThread, install_kick_handler

log = logging.getLogger(__name__)

PROG = "pyvirt-qemu"
IO_THREADS = 4  # workers for disk I/O, shared by all disks
HOST_REQUESTS = ("quit", "signal")  # outcomes that come from the host, not the guest


@dataclass(frozen=True)
class Outcome:
    kind: str  # "poweroff", "reset", "exit", "fatal", "quit", "signal"
    status: int = 0
    message: str = ""


class Vmm:
    def __init__(self, config: VmmConfig, kvm: Kvm) -> None:
        self.config = config
        self.kvm = kvm
        self.chardevs: dict[str, chardev.Chardev] = {}
        self.machine: PcMachine | None = None
        self.threads: list[VcpuThread] = []
        self._outcome: Outcome | None = None  # what ended the current run
        self._host_request: Outcome | None = None  # quit or signal: ends every run to come
        self._outcome_lock = threading.Lock()
        self._done: asyncio.Future[Outcome] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.virtio = machine_devices(config.devices)
        self.images: dict[str, BlockDriver] = {}
        self.netdevs: dict[str, NetBackend] = {}
        self.executor = concurrent.futures.ThreadPoolExecutor(IO_THREADS, "io")
        self.boots = 0

    # --- outcomes (any thread) -------------------------------------------------

    def request(self, outcome: Outcome) -> None:
        with self._outcome_lock:
            if outcome.kind in HOST_REQUESTS and self._host_request is None:
                self._host_request = outcome
            if self._outcome is not None:
                return
            self._outcome = outcome
        for thread in self.threads:
            thread.stop()
        loop, done = self._loop, self._done
        if loop is not None and done is not None:
            loop.call_soon_threadsafe(lambda: done.done() or done.set_result(outcome))

    def power_off(self) -> None:
        self.request(Outcome("poweroff", 0))

    def reset(self) -> None:
        self.request(Outcome("reset", 0))

    def debug_exit(self, status: int) -> None:
        self.request(Outcome("exit", status))

    def _fatal(self, report: str) -> None:
        self.request(Outcome("fatal", 1, report))

    def _system_event(self, kind: int) -> None:
        if kind == SystemEvent.SHUTDOWN:
            self.power_off()
        elif kind == SystemEvent.RESET:
            self.reset()
        else:
            self._fatal(f"guest system event {kind} (crash)")

    # --- running ---------------------------------------------------------------

    def open_host_resources(self) -> None:
        """Chardevs and disk images, opened once for every boot: errors come before the VM."""
        self.open_chardevs()
        for drive_id in {d.drive for d in self.virtio if d.drive is not None}:
            self.images[drive_id] = open_image(self.config.drives[drive_id])
        for netdev_id, spec in self.config.netdevs.items():
            self.netdevs[netdev_id] = open_backend(spec)

    def open_chardevs(self) -> None:
        escape = chardev.EscapeHandler(
            quit_=lambda: self.request(Outcome("quit", 0)),
            send_break=self._send_break,
            echo=lambda data: os.write(sys.stdout.fileno(), data),
        )
        for spec in self.config.chardevs.values():
            self.chardevs[spec.id] = chardev.create(spec, escape)

    def _send_break(self) -> None:
        if self.machine is not None and self.machine.serials:
            self.machine.serials[0].send_break()

    def _pc_config(self) -> PcConfig:
        c = self.config
        return PcConfig(
            ram_size=c.ram_size, cpus=c.cpus, cpu=c.cpu, kernel=c.kernel, initrd=c.initrd,
            append=c.append, bios=c.bios, nographic=c.nographic,
            debug_exits=tuple((d.iobase, d.iosize) for d in c.debug_exits),
            virtio=tuple(self.virtio),
        )  # fmt: skip

    def run(self) -> int:
        install_kick_handler()
        try:
            return asyncio.run(self._main())
        finally:
            self.executor.shutdown()
            for dev in self.chardevs.values():
                dev.close()
            for image in self.images.values():
                image.close()
            for backend in self.netdevs.values():
                backend.close()

    async def _main(self) -> int:
        self._loop = loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(signum, self._on_signal, signum)
        for dev in self.chardevs.values():
            if isinstance(dev, chardev.SocketChardev) and dev.spec.wait:
                await loop.run_in_executor(None, dev.wait_for_client)
            dev.start(loop)
        for backend in self.netdevs.values():
            backend.start(loop)
        while self._host_request is None:
            outcome = await self._run_once()
            if self._host_request is not None:
                break  # the host asked to stop while the guest was, e.g., resetting
            if outcome.kind == "reset" and not self.config.no_reboot:
                log.info("guest reset: rebooting")
                continue
            if outcome.kind == "fatal":
                print(f"{PROG}: {outcome.message}", file=sys.stderr)
            return outcome.status
        return self._host_request.status

    async def _run_once(self) -> Outcome:
        assert self._loop is not None
        self._outcome = None
        self._done = self._loop.create_future()
        serial_lines = [self.chardevs[cid] if cid else None for cid in self.config.serials]
        host = HostResources(self._loop, self.executor, self.chardevs, self.images, self.netdevs)
        self.machine = PcMachine(self.kvm, self._pc_config(), serial_lines, self, host)
        self.boots += 1
        self.threads = [
            VcpuThread(
                vcpu,
                self.machine.pio,
                self.machine.mmio,
                on_fatal=self._fatal,
                on_system_event=self._system_event,
                name=f"CPU {vcpu.id}/KVM",
            )
            for vcpu in self.machine.vcpus
        ]
        for thread in self.threads:
            thread.start()
        try:
            outcome = await self._done
        finally:
            for thread in self.threads:
                thread.stop()
            for thread in self.threads:
                await self._loop.run_in_executor(None, thread.join)
            for cid in filter(None, self.config.serials):
                self.chardevs[cid].set_receiver(None)
            _log_unclaimed(self.machine)
            self.machine.close()
            self.machine = None
            self.threads = []
        return outcome

    def _on_signal(self, signum: int) -> None:
        print(f"{PROG}: terminating on signal {signum}", file=sys.stderr)
        self.request(Outcome("signal", 0))


def open_image(drive: DriveSpec) -> BlockDriver:
    """The drive's image; without format= it is probed, with QEMU's warning when it is raw."""
    try:
        fmt = drive.format
        if fmt is None:
            fmt = probe_format(drive.file)
            if fmt == "raw":
                print(PROBED_RAW_WARNING.format(drive.file), file=sys.stderr)
        image = block_open(
            drive.file,
            format=fmt,
            read_only=drive.read_only,
            backing=drive.backing,
            discard=drive.discard,
            writethrough=drive.cache == "writethrough",
            no_flush=drive.cache == "unsafe",
        )
        if drive.format is None and isinstance(image, RawImage):
            image.protect_format = True
        return image
    except BlockError as e:
        raise VmmError(f"{drive.option}: {e.strerror}") from None


PROBED_RAW_WARNING = (
    "WARNING: Image format was not specified for '{}' and probing guessed raw.\n"
    "         Automatically detecting the format is dangerous for raw images, write operations "
    "on block 0 will be restricted.\n"
    "         Specify the 'raw' format explicitly to remove the restrictions."
)


def _log_unclaimed(machine: PcMachine) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return
    for bus in (machine.pio, machine.mmio):
        for (op, addr), count in sorted(bus.unclaimed.items()):
            log.debug("%s: %d unclaimed %s(s) at %#x", bus.name, count, op, addr)


def _pidfile_owner(path: str) -> int | None:
    """The live process, other than us, whose pid the file holds."""
    try:
        with open(path) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None  # missing, unreadable (the write below will say why) or not a pid
    if pid <= 0 or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid  # alive, but another user's
    return pid


def write_pidfile(path: str) -> None:
    """Write our pid atomically; refuse if another live process owns the file."""
    other = _pidfile_owner(path)
    if other is not None:
        raise VmmError(f"cannot create PID file '{path}': process {other} is running")
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as f:
            f.write(f"{os.getpid()}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise VmmError(f"cannot create PID file '{path}': {e.strerror}") from None
