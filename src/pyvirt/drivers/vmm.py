"""The pyvirt:///session|system and qemu:///session drivers: one VMM process per domain.

Persistent definitions live in <state_dir>/domains/NAME.xml, autostart flags in
<state_dir>/autostart/NAME, and each running VMM's runtime record in
<state_dir>/run/NAME.json, so a new driver (a restarted daemon) finds the VMMs
again without disturbing them. Only one driver at a time may own a state
directory: QMP takes one client per VMM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shlex
import signal
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyvirt.domain import DomainDef, LiveState, parse_domain
from pyvirt.domain.qemu_argv import RuntimePaths, qemu_argv
from pyvirt.storage.dir_pools import DirPools
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

from . import host, vmm_stats
from .base import (
    NO_JOB,
    BlockStats,
    DomainInfo,
    DomainRef,
    DomainState,
    EventCallback,
    InterfaceStats,
    JobInfo,
    JobOperation,
    JobType,
    LifecycleEvent,
    NodeInfo,
)
from .console import PtyConsole, open_pty_console
from .files import remove, set_flag, write_atomically, write_json
from .list_flags import domain_matches
from .reasons import (
    DefinedDetail,
    PausedReason,
    ResumedDetail,
    RunningReason,
    ShutdownDetail,
    ShutdownReason,
    ShutoffReason,
    StartedDetail,
    StoppedDetail,
    SuspendedDetail,
    UndefinedDetail,
)
from .save_image import read_header, write_header
from .vmm_process import RunRecord, VmmProcess, proc_start_time
from .vmm_snapshots import VmmSnapshots

SUN_PATH_MAX = 107  # sockaddr_un.sun_path, less its terminating NUL

MIGRATING = ("setup", "active")  # query-migrate statuses of a migration under way

log = logging.getLogger(__name__)

XML_INACTIVE = 2  # VIR_DOMAIN_XML_INACTIVE
DESTROY_GRACE = 10.0  # seconds between SIGTERM and SIGKILL, as libvirt


@dataclass
class _Domain:
    config: DomainDef  # the persistent definition, or the transient domain's
    persistent: bool
    autostart: bool = False
    state: DomainState = DomainState.SHUTOFF
    reason: int = ShutoffReason.UNKNOWN
    id: int = -1
    vmm: VmmProcess | None = None
    record: RunRecord | None = None
    running: DomainDef | None = None  # the definition the VMM runs
    destroying: bool = False
    saving: bool = False  # save() stops the VMM once its state is on disk
    rebooting: bool = False
    shut_down: bool = False  # the VMM reported SHUTDOWN (guest power-off or quit)
    stopped: asyncio.Event | None = None
    job: JobInfo = NO_JOB  # the running save's or restore's progress, as last polled

    @property
    def name(self) -> str:
        return self.config.name

    def ref(self) -> DomainRef:
        return DomainRef(self.name, self.config.uuid.bytes, self.id)


class VmmDriver(VmmSnapshots, DirPools):
    type = "QEMU"
    detailed_block_stats = True

    def __init__(self, uri: str, *, state_dir: Path, emulator: str) -> None:
        self.uri = uri
        self._dir = Path(state_dir)
        self._emulator = emulator
        self._storage_dir = self._dir / "storage"
        self._domains: dict[str, _Domain] = {}
        self._subscribers: list[EventCallback] = []
        self._next_id = 1
        self._records: dict[str, RunRecord] = {}
        self._attached: asyncio.Task[None] | None = None
        self._snapshot_trees = {}
        self._load()

    # --- state directory

    def _path(self, kind: str, name: str, suffix: str = "") -> Path:
        return self._dir / kind / f"{name}{suffix}"

    def _load(self) -> None:
        for path in sorted((self._dir / "domains").glob("*.xml")):
            try:
                config = parse_domain(path.read_text())
            except (VirtError, OSError) as err:
                log.warning("ignoring %s: %s", path, err)
                continue
            autostart = self._path("autostart", config.name).exists()
            self._domains[config.name] = _Domain(config, persistent=True, autostart=autostart)
        for path in sorted((self._dir / "run").glob("*.json")):
            try:
                record = RunRecord.from_json(json.loads(path.read_text()))
                running = parse_domain(record.xml)
            except (VirtError, OSError, ValueError, TypeError, KeyError) as err:
                log.warning("ignoring %s: %s", path, err)
                continue
            dom = self._domains.get(running.name) or _Domain(running, persistent=False)
            self._domains[running.name] = dom
            self._records[running.name] = record
            self._next_id = max(self._next_id, record.id + 1)

    async def _ready(self) -> None:
        """Re-attach, once, to the VMMs a previous driver left running."""
        if self._attached is None:
            self._attached = asyncio.get_running_loop().create_task(self._reattach())
        await asyncio.shield(self._attached)

    async def _reattach(self) -> None:
        for name, record in self._records.items():
            dom = self._domains[name]
            vmm = await VmmProcess.attach(record, name)
            if vmm is None:
                remove(self._path("run", name, ".json"))
                self._emit(dom, LifecycleEvent.STOPPED, StoppedDetail.FAILED)
                if not dom.persistent:
                    self._forget(dom)
                continue
            status = await vmm.execute("query-status")
            dom.vmm, dom.record, dom.id = vmm, record, record.id
            dom.running = parse_domain(record.xml)
            dom.stopped = asyncio.Event()
            if status.get("running"):
                dom.state, dom.reason = DomainState.RUNNING, RunningReason.UNKNOWN
            else:
                dom.state, dom.reason = DomainState.PAUSED, PausedReason.UNKNOWN
            self._watch(dom)
        self._records.clear()

    async def start_autostart(self) -> None:
        """Start the autostart pools and inactive domains (the daemon calls this once up)."""
        await self.start_autostart_pools()
        await self._ready()
        for dom in list(self._domains.values()):
            if dom.autostart and dom.vmm is None:
                try:
                    await self._start(dom)
                except VirtError as err:
                    log.error("autostart of domain %s failed: %s", dom.name, err.message)

    async def close(self) -> None:
        """Hang up on the VMMs and leave them running."""
        if self._attached is not None:
            await self._attached
        for dom in self._domains.values():
            if dom.vmm is not None:
                await dom.vmm.detach()
                dom.vmm = None

    # --- the host

    async def version(self) -> int:
        return 7_002_000  # the QEMU release our command line and QMP follow

    async def hostname(self) -> str:
        return host.hostname()

    async def capabilities(self) -> str:
        return host.capabilities(self._emulator)

    async def node_info(self) -> NodeInfo:
        return host.node_info()

    # --- lookups

    async def _find(self, ref: DomainRef) -> _Domain:
        await self._ready()
        dom = self._domains.get(ref.name)
        if dom is None or dom.config.uuid.bytes != ref.uuid:
            raise _no_domain(f"no domain with matching uuid '{uuidlib.UUID(bytes=ref.uuid)}'")
        return dom

    async def list_domains(self, flags: int) -> list[DomainRef]:
        await self._ready()
        return [
            d.ref()
            for d in self._domains.values()
            if domain_matches(flags, d.state, d.persistent, d.autostart)
        ]

    async def lookup_by_name(self, name: str) -> DomainRef:
        await self._ready()
        if name not in self._domains:
            raise _no_domain(f"no domain with matching name '{name}'")
        return self._domains[name].ref()

    async def lookup_by_uuid(self, uuid: bytes) -> DomainRef:
        await self._ready()
        for dom in self._domains.values():
            if dom.config.uuid.bytes == uuid:
                return dom.ref()
        raise _no_domain(f"no domain with matching uuid '{uuidlib.UUID(bytes=uuid)}'")

    async def lookup_by_id(self, id: int) -> DomainRef:
        await self._ready()
        for dom in self._domains.values():
            if dom.id == id and id >= 0:
                return dom.ref()
        raise _no_domain(f"no domain with matching id {id}")

    # --- definitions

    def _check_unique(self, config: DomainDef) -> _Domain | None:
        """The domain `config` redefines, if any; refuses name/UUID clashes as libvirt does."""
        dom = self._domains.get(config.name)
        if dom is not None and dom.config.uuid != config.uuid:
            raise VirtError.of(
                ErrorCode.OPERATION_FAILED,
                f"domain '{config.name}' is already defined with uuid {dom.config.uuid}",
                ErrorDomain.QEMU,
            )
        for other in self._domains.values():
            if other.config.uuid == config.uuid and other.name != config.name:
                raise VirtError.of(
                    ErrorCode.OPERATION_FAILED,
                    f"domain '{other.name}' already exists with uuid {config.uuid}",
                    ErrorDomain.QEMU,
                )
        return dom

    def _fill(self, config: DomainDef) -> DomainDef:
        if config.devices.emulator is None:
            config.devices.emulator = self._emulator
        return config

    async def define_xml(self, xml: str, flags: int) -> DomainRef:
        await self._ready()
        config = self._fill(parse_domain(xml))
        dom = self._check_unique(config)
        write_atomically(self._path("domains", config.name, ".xml"), config.to_xml())
        detail = DefinedDetail.ADDED if dom is None or not dom.persistent else DefinedDetail.UPDATED
        if dom is None:
            dom = self._domains[config.name] = _Domain(config, persistent=True)
        dom.config, dom.persistent = config, True
        self._emit(dom, LifecycleEvent.DEFINED, detail)
        return dom.ref()

    async def undefine(self, ref: DomainRef, flags: int) -> None:
        dom = await self._find(ref)
        if not dom.persistent:
            raise _invalid("cannot undefine transient domain")
        self._tree(dom).check_undefine(dom.vmm is not None, flags)
        remove(self._path("domains", dom.name, ".xml"))
        set_flag(self._path("autostart", dom.name), False)
        dom.persistent, dom.autostart = False, False
        if dom.vmm is None:
            self._forget(dom)
        self._emit(dom, LifecycleEvent.UNDEFINED, UndefinedDetail.REMOVED)

    # --- life cycle

    async def create(self, ref: DomainRef, flags: int) -> DomainRef:
        dom = await self._find(ref)
        await self._start(dom)
        return dom.ref()

    async def create_xml(self, xml: str, flags: int) -> DomainRef:
        await self._ready()
        config = self._fill(parse_domain(xml))
        dom = self._check_unique(config)
        if dom is None:
            dom = self._domains[config.name] = _Domain(config, persistent=False)
        try:
            await self._start(dom, config)
        except BaseException:
            if not dom.persistent:
                self._forget(dom)
            raise
        return dom.ref()

    async def _start(
        self, dom: _Domain, config: DomainDef | None = None, incoming: str | None = None
    ) -> None:
        """Spawn the VMM; with `incoming` (a migration URI), it loads a saved state first."""
        if dom.vmm is not None:
            raise _invalid("domain is already running")
        config = config or dom.config
        name = config.name
        run_dir = self._dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        qmp = run_dir / f"{config.uuid}.qmp"
        if len(bytes(qmp)) > SUN_PATH_MAX:
            raise VirtError(
                ErrorCode.INTERNAL_ERROR,
                f"internal error: monitor socket path '{qmp}' is longer than the "
                f"{SUN_PATH_MAX} bytes a unix socket allows; use a shorter state directory",
                ErrorDomain.QEMU,
            )
        remove(qmp)
        paths = RuntimePaths(str(qmp), str(run_dir / f"{config.uuid}.pid"))
        argv = qemu_argv(config, [config.devices.emulator or self._emulator], paths)
        argv += ["-incoming", incoming] if incoming else []
        vmm = await VmmProcess.spawn(argv, str(qmp), self._path("log", name, ".log"), name)
        if dom.id < 0:
            dom.id, self._next_id = self._next_id, self._next_id + 1
        dom.vmm, dom.running, dom.stopped = vmm, config, asyncio.Event()
        dom.destroying = dom.saving = dom.rebooting = dom.shut_down = False
        try:
            self._watch(dom)
            dom.record = RunRecord(
                pid=vmm.pid,
                start_time=proc_start_time(vmm.pid) or 0,
                qmp=str(qmp),
                id=dom.id,
                xml=config.to_xml(),
                ptys=await vmm.ptys(),
            )
            write_json(self._path("run", name, ".json"), dom.record.to_json())
            if incoming:
                self._set_state(dom, DomainState.RUNNING, RunningReason.RESTORED)
                self._emit(dom, LifecycleEvent.STARTED, StartedDetail.RESTORED)
            else:
                self._set_state(dom, DomainState.RUNNING, RunningReason.BOOTED)
                self._emit(dom, LifecycleEvent.STARTED, StartedDetail.BOOTED)
            await vmm.execute("cont")  # during an incoming migration: run once it is loaded
        except BaseException:
            dom.destroying = True
            vmm.kill(signal.SIGKILL)
            raise

    def _watch(self, dom: _Domain) -> None:
        assert dom.vmm is not None
        dom.vmm.watch(
            lambda event, data: self._on_qmp_event(dom, event, data),
            lambda status: self._on_exit(dom, status),
        )

    def _on_qmp_event(self, dom: _Domain, event: str, data: dict[str, Any]) -> None:
        if event == "STOP" and dom.state == DomainState.RUNNING:
            # only a monitor command pauses our VMMs: suspend(), or a user on QMP
            self._set_state(dom, DomainState.PAUSED, PausedReason.USER)
            self._emit(dom, LifecycleEvent.SUSPENDED, SuspendedDetail.PAUSED)
        elif event == "RESUME" and dom.state == DomainState.PAUSED:
            self._set_state(dom, DomainState.RUNNING, RunningReason.UNPAUSED)
            self._emit(dom, LifecycleEvent.RESUMED, ResumedDetail.UNPAUSED)
        elif event == "SHUTDOWN" and not dom.shut_down and not dom.destroying:
            dom.shut_down = True
            guest = bool(data.get("guest"))
            self._set_state(dom, DomainState.SHUTDOWN, ShutdownReason.UNKNOWN)
            detail = ShutdownDetail.GUEST if guest else ShutdownDetail.HOST
            self._emit(dom, LifecycleEvent.SHUTDOWN, detail)

    def _on_exit(self, dom: _Domain, status: int | None) -> None:
        """The VMM is gone: say how, clean up, and restart it where the domain asks to."""
        crashed = False
        if dom.saving:
            reason, detail = ShutoffReason.SAVED, StoppedDetail.SAVED
        elif dom.destroying:
            reason, detail = ShutoffReason.DESTROYED, StoppedDetail.DESTROYED
        elif dom.shut_down or status == 0:
            reason, detail = ShutoffReason.SHUTDOWN, StoppedDetail.SHUTDOWN
        else:
            reason, detail = ShutoffReason.CRASHED, StoppedDetail.FAILED
            crashed = status is not None
        running = dom.running or dom.config
        restart = not (dom.destroying or dom.saving) and (
            dom.rebooting
            or (reason == ShutoffReason.SHUTDOWN and running.on_poweroff == "restart")
            or (crashed and running.on_crash == "restart")
        )
        rebooting = dom.rebooting
        remove(self._path("run", dom.name, ".json"))
        dom.vmm = dom.record = dom.running = None
        self._set_state(dom, DomainState.SHUTOFF, reason)
        if not rebooting:
            dom.id = -1
            self._emit(dom, LifecycleEvent.STOPPED, detail)
        if dom.stopped is not None:
            dom.stopped.set()
        if restart:
            config = dom.config if dom.persistent else running
            asyncio.get_running_loop().create_task(self._restart(dom, config))
        elif not dom.persistent:
            self._forget(dom)

    async def _restart(self, dom: _Domain, config: DomainDef) -> None:
        try:
            await self._start(dom, config)
        except VirtError as err:
            log.error("restarting domain %s failed: %s", dom.name, err.message)
            dom.id = -1
            if not dom.persistent:
                self._forget(dom)

    def _set_state(self, dom: _Domain, state: DomainState, reason: int) -> None:
        dom.state, dom.reason = state, reason

    def _forget(self, dom: _Domain) -> None:
        """A domain that is neither defined nor running any more, and its snapshot
        metadata (the qcow2 images keep their internal snapshots)."""
        self._domains.pop(dom.name, None)
        self._drop_snapshots(dom)

    def _active(self, dom: _Domain) -> VmmProcess:
        if dom.vmm is None:
            raise _invalid("domain is not running")
        return dom.vmm

    async def destroy(self, ref: DomainRef, flags: int) -> None:
        dom = await self._find(ref)
        vmm = self._active(dom)
        dom.destroying = True
        await self._terminate(dom, vmm)

    async def _terminate(self, dom: _Domain, vmm: VmmProcess) -> None:
        stopped = dom.stopped
        assert stopped is not None
        vmm.kill(signal.SIGTERM)
        try:
            await asyncio.wait_for(stopped.wait(), DESTROY_GRACE)
        except TimeoutError:
            vmm.kill(signal.SIGKILL)
            await stopped.wait()

    async def save(self, ref: DomainRef, path: str) -> None:
        """Pause, stream the state after a header with the XML (QMP migrate), stop the VMM."""
        dom = await self._find(ref)
        vmm = self._active(dom)
        write_header(path, (dom.running or dom.config).to_xml())
        was = (dom.state, dom.reason)
        self._set_state(dom, DomainState.PAUSED, PausedReason.SAVING)
        await vmm.execute("stop")
        started = time.monotonic()
        dom.job = JobInfo(JobType.UNBOUNDED, JobOperation.SAVE)
        try:
            await vmm.execute("migrate", {"uri": f"exec:cat >> {shlex.quote(path)}"})
            while (status := await vmm.execute("query-migrate")).get("status") in MIGRATING:
                ram = status.get("ram", {})
                dom.job = JobInfo(JobType.UNBOUNDED, JobOperation.SAVE, _ms_since(started),
                                  ram.get("total", 0), ram.get("transferred", 0),
                                  ram.get("remaining", 0))  # fmt: skip
                await asyncio.sleep(0.05)
        finally:
            dom.job = NO_JOB
        if status.get("status") != "completed":
            self._set_state(dom, *was)
            if was[0] == DomainState.RUNNING:
                await vmm.execute("cont")
            remove(Path(path))
            error = status.get("error-desc", status.get("status"))
            raise VirtError.of(ErrorCode.OPERATION_FAILED, f"save: {error}")
        dom.saving = True
        await self._terminate(dom, vmm)

    async def restore(self, path: str) -> DomainRef:
        """Start a VMM that loads what save() wrote (from the offset after the header)."""
        await self._ready()
        xml, offset = read_header(path)
        config = self._fill(parse_domain(xml))
        dom = self._check_unique(config)
        if dom is None:
            dom = self._domains[config.name] = _Domain(config, persistent=False)
        incoming = f"exec:tail -c +{offset + 1} {shlex.quote(path)}"
        started = time.monotonic()
        total = Path(path).stat().st_size - offset
        try:
            await self._start(dom, config, incoming)
            vmm = self._active(dom)
            while (await vmm.execute("query-status"))["status"] == "inmigrate":
                # the incoming side's ram.transferred counts bytes read from the file
                done = (await vmm.execute("query-migrate")).get("ram", {}).get("transferred", 0)
                dom.job = JobInfo(JobType.UNBOUNDED, JobOperation.RESTORE, _ms_since(started),
                                  total, done, max(total - done, 0))  # fmt: skip
                await asyncio.sleep(0.05)
        except BaseException:
            if not dom.persistent and dom.vmm is None:
                self._forget(dom)
            raise
        finally:
            dom.job = NO_JOB
        return dom.ref()

    async def job_info(self, ref: DomainRef) -> JobInfo:
        dom = await self._find(ref)
        self._active(dom)
        return dom.job

    async def shutdown(self, ref: DomainRef, flags: int) -> None:
        dom = await self._find(ref)
        await self._active(dom).execute("system_powerdown")

    async def reboot(self, ref: DomainRef, flags: int) -> None:
        """As libvirt: ask the guest to power off, then start it again."""
        dom = await self._find(ref)
        vmm = self._active(dom)
        dom.rebooting = True
        await vmm.execute("system_powerdown")

    async def reset(self, ref: DomainRef, flags: int) -> None:
        dom = await self._find(ref)
        await self._active(dom).execute("system_reset")

    async def suspend(self, ref: DomainRef) -> None:
        dom = await self._find(ref)
        await self._active(dom).execute("stop")
        if dom.state == DomainState.RUNNING:
            self._set_state(dom, DomainState.PAUSED, PausedReason.USER)
            self._emit(dom, LifecycleEvent.SUSPENDED, SuspendedDetail.PAUSED)

    async def resume(self, ref: DomainRef) -> None:
        dom = await self._find(ref)
        await self._active(dom).execute("cont")
        if dom.state == DomainState.PAUSED:
            self._set_state(dom, DomainState.RUNNING, RunningReason.UNPAUSED)
            self._emit(dom, LifecycleEvent.RESUMED, ResumedDetail.UNPAUSED)

    # --- reading a domain

    async def xml_desc(self, ref: DomainRef, flags: int) -> str:
        dom = await self._find(ref)
        if dom.running is None or dom.record is None or flags & XML_INACTIVE:
            return dom.config.to_xml()
        return dom.running.to_xml(LiveState(id=dom.id, ptys=dom.record.ptys))

    async def info(self, ref: DomainRef) -> DomainInfo:
        dom = await self._find(ref)
        config = dom.running or dom.config
        return DomainInfo(
            state=dom.state,
            max_mem_kib=config.memory_kib,
            memory_kib=config.current_memory_kib,
            nr_virt_cpu=config.vcpus,
            cpu_time_ns=0 if dom.vmm is None else _cpu_time_ns(dom.vmm.pid),
        )

    async def state(self, ref: DomainRef) -> tuple[DomainState, int]:
        dom = await self._find(ref)
        return dom.state, int(dom.reason)

    async def get_autostart(self, ref: DomainRef) -> bool:
        return (await self._find(ref)).autostart

    async def set_autostart(self, ref: DomainRef, autostart: bool) -> None:
        dom = await self._find(ref)
        if not dom.persistent:
            raise _invalid("cannot set autostart for transient domain")
        set_flag(self._path("autostart", dom.name), autostart)
        dom.autostart = autostart

    async def is_active(self, ref: DomainRef) -> bool:
        return (await self._find(ref)).vmm is not None

    async def is_persistent(self, ref: DomainRef) -> bool:
        return (await self._find(ref)).persistent

    async def open_console(self, ref: DomainRef, dev_name: str | None, flags: int) -> PtyConsole:
        dom = await self._find(ref)
        self._active(dom)
        assert dom.record is not None
        port = 0
        if dev_name is not None:
            for prefix in ("serial", "console"):
                if dev_name.startswith(prefix) and dev_name[len(prefix) :].isdigit():
                    port = int(dev_name[len(prefix) :])
                    break
            else:
                raise _invalid(f"cannot find character device {dev_name}")
        if port not in dom.record.ptys:
            raise _invalid(f"cannot find character device {dev_name or 'console0'}")
        return await open_pty_console(dom.record.ptys[port])

    # --- statistics

    async def block_stats(self, ref: DomainRef, disk: str) -> BlockStats:
        dom = await self._find(ref)
        vmm = self._active(dom)
        return await vmm_stats.block_stats(vmm, dom.running or dom.config, disk)

    async def interface_stats(self, ref: DomainRef, device: str) -> InterfaceStats:
        dom = await self._find(ref)
        vmm = self._active(dom)
        pyvirt = self.uri.startswith("pyvirt:")  # pyvirt-qemu counts; QEMU's user net does not
        return await vmm_stats.interface_stats(
            vmm, dom.running or dom.config, device, pyvirt=pyvirt
        )

    # --- events

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def _emit(self, dom: _Domain, event: LifecycleEvent, detail: int) -> None:
        ref = dom.ref()
        for callback in list(self._subscribers):
            try:
                callback(ref, event, int(detail))
            except Exception:
                log.exception("event subscriber failed")


def _cpu_time_ns(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    return 0


def _ms_since(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


def _no_domain(detail: str) -> VirtError:
    return VirtError.of(ErrorCode.NO_DOMAIN, detail, ErrorDomain.QEMU)


def _invalid(detail: str) -> VirtError:
    return VirtError.of(ErrorCode.OPERATION_INVALID, detail, ErrorDomain.QEMU)
