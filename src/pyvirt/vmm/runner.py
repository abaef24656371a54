"""The VMM's life cycle: chardevs, the machine, its vCPU threads and the main loop.

The main thread runs an asyncio loop for chardev I/O and the QMP monitor; vCPU
threads run the guest. Whatever ends a run (power-off, reset, debug exit, a
fatal exit, Ctrl-a x, quit, a signal) is an Outcome; the first one wins, every
vCPU is kicked out of KVM_RUN at once, and the loop decides: reboot or exit.

Pausing (QMP stop, -S, a snapshot) parks the vCPU threads, suspends the virtio
devices once their requests in flight have completed, and freezes kvmclock, so
the guest sees no time pass and nothing touches its memory until it resumes.
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
import time
from dataclasses import dataclass
from typing import Any

from pyvirt.block.accounting import BlockAccounting
from pyvirt.block.driver import BlockDriver, BlockError
from pyvirt.block.locking import Permissions
from pyvirt.block.open import open_image as block_open
from pyvirt.block.open import probe_format
from pyvirt.block.raw import RawImage
from pyvirt.hw.virtio.device import VirtioDevice
from pyvirt.kvm import Kvm
from pyvirt.kvm.exits import SystemEvent
from pyvirt.machine.host import HostResources
from pyvirt.machine.x86 import pc_snapshot
from pyvirt.machine.x86.cpu_dump import format_registers
from pyvirt.machine.x86.pc import PcConfig, PcMachine
from pyvirt.net import NetBackend, open_backend
from pyvirt.sockets import listen
from pyvirt.vmm import chardev, migration
from pyvirt.vmm.device_options import DriveSpec, machine_devices
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.options import VmmConfig
from pyvirt.vmm.qmp.server import QmpServer
from pyvirt.vmm.vcpu_thread import VcpuThread, install_kick_handler

log = logging.getLogger(__name__)

PROG = "pyvirt-qemu"
IO_THREADS = 4  # workers for disk I/O, shared by all disks
HOST_REQUESTS = ("quit", "signal")  # outcomes that come from the host, not the guest
PARK_TIMEOUT = 10.0  # seconds a vCPU may take to leave KVM_RUN when paused
# SHUTDOWN event (guest, reason) of the outcomes that end the VMM with one
_SHUTDOWN_EVENTS = {"poweroff": (True, "guest-shutdown"), "quit": (False, "host-qmp-quit"),
                    "signal": (False, "host-signal")}  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    kind: str  # "poweroff", "reset", "exit", "fatal", "quit", "signal"
    status: int = 0
    message: str = ""
    guest: bool = True  # for reset: did the guest ask (or the host, by QMP system_reset)?
    reason: str = "guest-reset"  # the RESET event's reason


class Vmm:
    prog = PROG  # in messages

    def __init__(self, config: VmmConfig, kvm: Kvm | None) -> None:
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
        self.block_stats: dict[str, BlockAccounting] = {}
        self.netdevs: dict[str, NetBackend] = {}
        self.executor = concurrent.futures.ThreadPoolExecutor(IO_THREADS, "io")
        self.boots = 0
        self.qmp: QmpServer | None = None
        self.paused = config.start_paused or config.incoming is not None
        self.run_state = (
            "inmigrate" if config.incoming else "prelaunch" if self.paused else "running"
        )
        self.autostart = not config.start_paused  # QEMU's: cont/stop during inmigrate set it
        self.migration = migration.MigrationJob()
        self.incoming_uri: asyncio.Future[str] | None = None  # -incoming defer: migrate-incoming
        self._state_lock: asyncio.Lock | None = None  # one stop/cont/migrate at a time
        self._clock: int | None = None  # kvmclock frozen at stop
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- outcomes (any thread) -------------------------------------------------

    def request(self, outcome: Outcome) -> None:
        with self._outcome_lock:
            if outcome.kind in HOST_REQUESTS and self._host_request is None:
                self._host_request = outcome
            if self._outcome is not None:
                return
            self._outcome = outcome
        self._announce(outcome)
        for thread in self.threads:
            thread.stop()
        loop, done = self._loop, self._done
        if loop is not None and done is not None:
            loop.call_soon_threadsafe(lambda: done.done() or done.set_result(outcome))

    def _announce(self, outcome: Outcome) -> None:
        """The QMP event of an outcome (none for a debug exit or a fatal error, as in QEMU)."""
        if self.qmp is None:
            return
        if outcome.kind == "reset":
            event = "SHUTDOWN" if self.config.no_reboot else "RESET"
            self.qmp.emit(event, {"guest": outcome.guest, "reason": outcome.reason})
        elif outcome.kind in _SHUTDOWN_EVENTS:
            guest, reason = _SHUTDOWN_EVENTS[outcome.kind]
            self.qmp.emit("SHUTDOWN", {"guest": guest, "reason": reason})

    def emit(self, event: str, data: dict[str, Any] | None = None) -> None:
        if self.qmp is not None:
            self.qmp.emit(event, data)

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
            self.block_stats[drive_id] = BlockAccounting()
        for netdev_id, spec in self.config.netdevs.items():
            self.netdevs[netdev_id] = open_backend(spec)

    def host_resources(self, loop: asyncio.AbstractEventLoop) -> HostResources:
        """What this boot's machine borrows from the VMM."""
        return HostResources(
            loop,
            self.executor,
            chardevs=self.chardevs,
            images=self.images,
            block_stats=self.block_stats,
            netdevs=self.netdevs,
        )

    def open_chardevs(self) -> None:
        escape = chardev.EscapeHandler(
            quit_=lambda: self.request(Outcome("quit", 0)),
            send_break=self._send_break,
            echo=lambda data: os.write(sys.stdout.fileno(), data),
        )
        for spec in self.config.chardevs.values():
            if spec.id not in self.config.monitors:
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
            virtio=tuple(self.virtio), uuid=c.uuid, incoming=self.boots == 0 and bool(c.incoming),
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
        self._state_lock = asyncio.Lock()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            await self._start_qmp()
            return await self._serve()
        finally:
            if self.qmp is not None:
                await self.qmp.close()

    async def _start_qmp(self) -> None:
        if not self.config.monitors:
            return
        from pyvirt.vmm.qmp.commands import command_table  # the table needs the whole VMM

        listeners = []
        for cid in self.config.monitors:
            spec = self.config.chardevs[cid]
            try:
                listeners.append(listen(spec.path, spec.host or "0.0.0.0", spec.port))
            except OSError as e:
                raise VmmError(f"-qmp: chardev '{cid}': {e.strerror or e}") from None
        self.qmp = QmpServer(command_table(self), qmp_version())
        await self.qmp.serve(listeners)
        if any(self.config.chardevs[cid].wait for cid in self.config.monitors):
            await self.qmp.wait_for_client()

    async def _serve(self) -> int:
        loop = asyncio.get_running_loop()
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
                print(f"{self.prog}: {outcome.message}", file=sys.stderr)
            return outcome.status
        return self._host_request.status

    async def _run_once(self) -> Outcome:
        assert self._loop is not None
        self._outcome = None
        self._done = self._loop.create_future()
        serial_lines = [self.chardevs[cid] if cid else None for cid in self.config.serials]
        host = self.host_resources(self._loop)
        assert self.kvm is not None
        self.machine = PcMachine(self.kvm, self._pc_config(), serial_lines, self, host)
        self._clock = None
        self.threads = [
            VcpuThread(
                vcpu,
                self.machine.pio,
                self.machine.mmio,
                on_fatal=self._fatal,
                on_system_event=self._system_event,
                name=f"CPU {vcpu.id}/KVM",
                held=self.paused,
            )
            for vcpu in self.machine.vcpus
        ]
        incoming = self.boots == 0 and self.config.incoming is not None
        self.boots += 1
        try:
            if incoming and not await self._incoming(self.machine):
                return await self._done
            for thread in self.threads:
                thread.start()
            if incoming and self.autostart:
                await self.resume()
            outcome = await self._done
        finally:
            for thread in self.threads:
                thread.stop()
            for thread in self.threads:
                if thread.ident is not None:  # started
                    await self._loop.run_in_executor(None, thread.join)
            for cid in filter(None, self.config.serials):
                self.chardevs[cid].set_receiver(None)
            _log_unclaimed(self.machine)
            self.machine.close()
            self.machine = None
            self.threads = []
        return outcome

    # --- pause and resume (main loop) ---------------------------------------------

    def _wait_parked(self) -> None:
        for thread in self.threads:
            if not thread.wait_parked(PARK_TIMEOUT):
                raise VmmError(f"{thread.name} did not stop running guest code")

    def _virtio_devices(self) -> list[VirtioDevice]:
        return self.machine.virtio_devices if self.machine is not None else []

    def _freeze_clock(self) -> None:
        """The guest's clock stops with its CPUs (kvmclock read, set again on resume)."""
        if self.machine is not None:
            self._clock = self.machine.vm.get_clock()

    def _thaw_clock(self) -> None:
        if self.machine is not None and self._clock is not None:
            self.machine.vm.set_clock(self._clock)  # no jump for the time spent paused
        self._clock = None

    async def pause(self, state: str = "paused") -> None:
        """Park the CPUs, quiesce the devices, freeze the guest clock; emit STOP once."""
        assert self._state_lock is not None
        async with self._state_lock:
            if not self.paused:
                self.paused = True
                for thread in self.threads:
                    thread.hold()
                await asyncio.get_running_loop().run_in_executor(None, self._wait_parked)
                await _quiesce(self._virtio_devices())
                self._freeze_clock()
                self.emit("STOP")
            self.run_state = state

    async def resume(self) -> None:
        assert self._state_lock is not None
        async with self._state_lock:
            if not self.paused:
                return
            self._thaw_clock()
            for device in self._virtio_devices():
                device.resume()
            self.paused = False
            self.run_state = "running"
            for thread in self.threads:
                thread.release()
            self.emit("RESUME")

    async def on_cpu(self, index: int, work: Any) -> Any:
        """Run `work(thread)` on a worker thread while CPU `index`'s thread is parked."""
        thread = self.threads[index]
        loop = asyncio.get_running_loop()
        if self.paused:
            return await loop.run_in_executor(None, work, thread)
        thread.hold()
        try:
            await loop.run_in_executor(None, thread.wait_parked, PARK_TIMEOUT)
            return await loop.run_in_executor(None, work, thread)
        finally:
            if not self.paused:
                thread.release()

    async def cpu_registers(self, index: int) -> str:
        """HMP `info registers` of vCPU `index`."""
        return await self.on_cpu(
            index, lambda t: format_registers(t.vcpu.get_regs(), t.vcpu.get_sregs())
        )

    def press_power_button(self) -> None:
        if self.machine is not None:
            self.machine.acpi_pm.press_power_button()
        self.emit("POWERDOWN")

    # --- snapshots ------------------------------------------------------------------

    def start_migration(self, uri: str) -> None:
        """migrate: a snapshot of the paused VM to `uri`, in the background."""
        job = migration.MigrationJob(on_status=self._migration_status)
        self.migration = job
        job.set("setup")
        task = asyncio.get_running_loop().create_task(self._migrate(job, uri))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _migration_status(self, status: str) -> None:
        self.emit("MIGRATION", {"status": status})

    async def _migrate(self, job: migration.MigrationJob, uri: str) -> None:
        loop = asyncio.get_running_loop()
        was_running = not self.paused
        try:
            channel = await loop.run_in_executor(None, migration.open_outgoing, uri)
            job.set("active")
            stopped = time.monotonic()
            await self.pause("finish-migrate")
            machine = self.machine
            if machine is None:
                raise VmmError("the VM is rebooting")
            job.ram_total = machine.mem.total
            state = pc_snapshot.save(machine)
            await loop.run_in_executor(None, migration.write_snapshot, channel, machine, state, job)
            job.downtime_ms = int((time.monotonic() - stopped) * 1000)
            self.run_state = "postmigrate"
            job.set("completed")
        except (*migration.ERRORS, VmmError) as e:
            log.warning("migration to %s failed: %s", uri, e)
            job.fail(str(e))
            if was_running:
                await self.resume()

    async def _incoming(self, machine: PcMachine) -> bool:
        """-incoming: the first boot's RAM, vCPUs and devices come from a snapshot. False if
        the VMM was told to end (quit) while it waited for migrate-incoming."""
        uri = self.config.incoming
        assert uri is not None and self._done is not None
        if uri == "defer":
            self.incoming_uri = asyncio.get_running_loop().create_future()
            await asyncio.wait((self.incoming_uri, self._done), return_when="FIRST_COMPLETED")
            if not self.incoming_uri.done():
                return False
            uri = self.incoming_uri.result()
        job = migration.MigrationJob(on_status=self._migration_status)
        self.migration = job
        job.ram_total = machine.mem.total
        job.set("setup")
        try:
            state = await asyncio.get_running_loop().run_in_executor(
                None, migration.read_snapshot, uri, machine, job
            )
            pc_snapshot.load(machine, state)
        except migration.ERRORS as e:
            job.fail(str(e))
            raise VmmError(f"-incoming {uri}: {e}") from None
        job.set("completed")
        self._clock = machine.vm.get_clock()
        self.run_state = "paused"
        return True

    def _on_signal(self, signum: int) -> None:
        print(f"{self.prog}: terminating on signal {signum}", file=sys.stderr)
        self.request(Outcome("signal", 0))


async def _quiesce(devices: list[VirtioDevice]) -> None:
    """Suspend the virtio devices and let their requests in flight complete."""
    for device in devices:
        device.suspend()
    while any(device.busy() for device in devices):
        await asyncio.sleep(0.001)


def qmp_version() -> dict[str, Any]:
    """The QEMU version whose command line and QMP we speak, and our package."""
    from pyvirt import __version__
    from pyvirt.vmm.main import QEMU_COMPAT_VERSION

    major, minor, micro = (int(part) for part in QEMU_COMPAT_VERSION.split("."))
    return {"qemu": {"micro": micro, "minor": minor, "major": major},
            "package": f"pyvirt {__version__}"}  # fmt: skip


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
            writethrough=not drive.cache.writeback,
            no_flush=drive.cache.no_flush,
            direct=drive.cache.direct,
            lock=Permissions.device(read_only=drive.read_only) if drive.locking else None,
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
