"""The vmm driver on real VMMs: life cycle, states, events, VMM death, re-attaching."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from pyvirt.drivers.base import DomainRef, DomainState, LifecycleEvent
from pyvirt.drivers.reasons import (
    PausedReason,
    RunningReason,
    ShutoffReason,
    StartedDetail,
    StoppedDetail,
)
from pyvirt.drivers.vmm import VmmDriver
from pyvirt.virterror import ErrorCode, VirtError
from pyvirt.vmm import options as vmm_options
from tests.conftest import QEMU, kvm_usable
from tests.support import TinyGuests

pytestmark = pytest.mark.kvm
PYVIRT_QEMU = str(Path(sys.executable).parent / "pyvirt-qemu")
Event = tuple[str, LifecycleEvent, int]


def emulator(kind: str) -> str:
    if not kvm_usable():
        pytest.skip("/dev/kvm is not usable")
    if kind == "qemu":
        if QEMU is None:
            pytest.skip("qemu-system-x86_64 is not installed")
        return QEMU
    if "qmp" not in vmm_options.OPTIONS:
        pytest.skip("pyvirt-qemu has no QMP server yet (branch qmp)")
    return PYVIRT_QEMU


@pytest.fixture(params=["qemu", "pyvirt"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def counter(tiny_guests: TinyGuests) -> str:
    """The tiny guest that counts on COM1 until stopped."""
    return str(tiny_guests["counter"])


def spinning_domain(kernel: str, name: str = "spin") -> str:
    return (
        f"<domain type='kvm'><name>{name}</name><memory unit='MiB'>32</memory>"
        f"<os><type>hvm</type><kernel>{kernel}</kernel></os><features><acpi/></features>"
        "<devices><console type='pty'/></devices></domain>"
    )


def run(
    kind: str, tmp_path: Path, body: Callable[[VmmDriver, list[Event]], Awaitable[None]]
) -> None:
    async def main() -> None:
        driver = VmmDriver("qemu:///session", state_dir=tmp_path, emulator=emulator(kind))
        events: list[Event] = []
        driver.subscribe(lambda ref, ev, detail: events.append((ref.name, ev, detail)))
        try:
            await body(driver, events)
        finally:
            for ref in await driver.list_domains(1):
                await driver.destroy(ref, 0)
            await driver.close()

    asyncio.run(main())


async def until(predicate: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


def test_define_start_suspend_resume_destroy_undefine(
    kind: str, tmp_path: Path, counter: str
) -> None:
    async def body(d: VmmDriver, events: list[Event]) -> None:
        ref = await d.define_xml(spinning_domain(counter), 0)
        assert (tmp_path / "domains" / "spin.xml").read_text() == await d.xml_desc(ref, 0)
        assert await d.state(ref) == (DomainState.SHUTOFF, ShutoffReason.UNKNOWN)
        ref = await d.create(ref, 0)
        assert ref.id == 1 and (await d.lookup_by_id(1)).name == "spin"
        assert await d.state(ref) == (DomainState.RUNNING, RunningReason.BOOTED)
        info = await d.info(ref)
        assert (info.max_mem_kib, info.nr_virt_cpu) == (32768, 1)
        live = await d.xml_desc(ref, 0)
        assert "<domain type='kvm' id='1'>" in live and "<console type='pty' tty='/dev/pts/" in live
        assert "id=" not in await d.xml_desc(ref, 2)  # VIR_DOMAIN_XML_INACTIVE
        with pytest.raises(VirtError) as err:
            await d.create(ref, 0)
        assert err.value.code == ErrorCode.OPERATION_INVALID
        await d.suspend(ref)
        assert await d.state(ref) == (DomainState.PAUSED, PausedReason.USER)
        await d.resume(ref)
        assert await d.state(ref) == (DomainState.RUNNING, RunningReason.UNPAUSED)
        await d.destroy(ref, 0)
        assert await d.state(ref) == (DomainState.SHUTOFF, ShutoffReason.DESTROYED)
        assert not (tmp_path / "run" / "spin.json").exists()
        await d.undefine(ref, 0)
        assert await d.list_domains(0) == []
        assert [(e, det) for _, e, det in events] == [
            (LifecycleEvent.DEFINED, 0),
            (LifecycleEvent.STARTED, StartedDetail.BOOTED),
            (LifecycleEvent.SUSPENDED, 0),
            (LifecycleEvent.RESUMED, 0),
            (LifecycleEvent.STOPPED, StoppedDetail.DESTROYED),
            (LifecycleEvent.UNDEFINED, 0),
        ]

    run(kind, tmp_path, body)


def test_killed_vmm_is_noticed_at_once(kind: str, tmp_path: Path, counter: str) -> None:
    async def body(d: VmmDriver, events: list[Event]) -> None:
        ref = await d.create_xml(spinning_domain(counter, "transient"), 0)
        assert not await d.is_persistent(ref)
        pid = d._domains["transient"].vmm.pid  # type: ignore[union-attr]
        os.kill(pid, signal.SIGKILL)
        await until(lambda: _gone(d, "transient"))
        assert events[-1] == ("transient", LifecycleEvent.STOPPED, StoppedDetail.FAILED)
        assert not (tmp_path / "run" / "transient.json").exists()

    run(kind, tmp_path, body)


async def _gone(d: VmmDriver, name: str) -> bool:
    return all(ref.name != name for ref in await d.list_domains(0))


def test_a_new_driver_reattaches_to_running_vmms(kind: str, tmp_path: Path, counter: str) -> None:
    async def main() -> None:
        first = VmmDriver("qemu:///session", state_dir=tmp_path, emulator=emulator(kind))
        await first.define_xml(spinning_domain(counter, "kept"), 0)
        await first.set_autostart(await first.lookup_by_name("kept"), True)
        ref = await first.create(await first.lookup_by_name("kept"), 0)
        await first.create_xml(spinning_domain(counter, "passing"), 0)
        pid = first._domains["kept"].vmm.pid  # type: ignore[union-attr]
        await first.close()
        os.kill(pid, 0)  # still running

        second = VmmDriver("qemu:///session", state_dir=tmp_path, emulator=emulator(kind))
        events: list[Event] = []
        second.subscribe(lambda r, ev, detail: events.append((r.name, ev, detail)))
        again = await second.lookup_by_name("kept")
        assert again == ref and await second.get_autostart(again)
        assert (await second.state(again))[0] == DomainState.RUNNING
        assert not await second.is_persistent(await second.lookup_by_name("passing"))
        await second.suspend(again)
        await second.resume(again)
        await second.start_autostart()  # already running: nothing to do
        assert second._domains["kept"].vmm.pid == pid  # type: ignore[union-attr]
        for r in await second.list_domains(1):
            await second.destroy(r, 0)
        assert await _gone(second, "passing")
        assert (await second.state(again))[0] == DomainState.SHUTOFF
        await second.start_autostart()
        assert (await second.state(again))[0] == DomainState.RUNNING
        await second.destroy(again, 0)
        await second.close()
        assert [e for _, e, _ in events].count(LifecycleEvent.STOPPED) == 3

    asyncio.run(main())


def test_errors_name_the_domain(tmp_path: Path, counter: str) -> None:
    async def body(d: VmmDriver, events: list[Event]) -> None:
        with pytest.raises(VirtError) as err:
            await d.lookup_by_name("nope")
        assert err.value.code == ErrorCode.NO_DOMAIN
        assert err.value.message == "Domain not found: no domain with matching name 'nope'"
        ref = await d.define_xml(spinning_domain(counter), 0)
        with pytest.raises(VirtError) as err:
            await d.destroy(ref, 0)
        assert err.value.message == "Requested operation is not valid: domain is not running"
        with pytest.raises(VirtError) as err:
            await d.define_xml(
                spinning_domain(counter).replace("<name>", "<uuid>" + "1" * 32 + "</uuid><name>"), 0
            )
        assert "already defined with uuid" in err.value.message
        assert isinstance(await d.lookup_by_uuid(ref.uuid), DomainRef)

    run("qemu", tmp_path, body)


def test_a_monitor_path_too_long_for_a_socket_is_refused(tmp_path: Path, counter: str) -> None:
    deep = tmp_path / ("d" * 100)
    deep.mkdir()

    async def body(d: VmmDriver, events: list[Event]) -> None:
        ref = await d.define_xml(spinning_domain(counter), 0)
        with pytest.raises(VirtError) as err:
            await d.create(ref, 0)
        assert "longer than the 107 bytes a unix socket allows" in err.value.message
        assert not await d.is_active(ref)

    run("qemu", deep, body)


def test_console_shows_guest_output(kind: str, tmp_path: Path, counter: str) -> None:
    async def body(d: VmmDriver, events: list[Event]) -> None:
        ref = await d.create_xml(spinning_domain(counter), 0)
        console = await d.open_console(ref, None, 0)
        seen = b""
        while b"count 2" not in seen:
            seen += await asyncio.wait_for(console.reader.read(4096), 20)
        console.writer.close()
        with pytest.raises(VirtError):
            await d.open_console(ref, "serial3", 0)

    run(kind, tmp_path, body)
