"""Driver selection by connection URI.

Drivers are shared per URI inside one daemon, as libvirtd shares them: every
client of `test:///default` sees the same domains and every client gets the
events of all of them. The daemon closes them with close_all() when it stops.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from pyvirt import uri as urimod
from pyvirt.drivers.base import Driver
from pyvirt.drivers.test import TestDriver
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

_drivers: dict[str, Driver] = {}
_opening = asyncio.Lock()

VMM_URIS = ("pyvirt:///session", "pyvirt:///system", "qemu:///session", "qemu:///system")


def _no_driver(uri: str) -> VirtError:
    return VirtError(
        ErrorCode.NO_CONNECT,
        f"no connection driver available for {uri}",
        ErrorDomain.NONE,
    )


async def open_driver(uri: str, *, state_dir: Path, readonly: bool) -> Driver:
    async with _opening:  # one driver per state directory, even when clients race to open
        return await _open(uri, state_dir)


async def _open(uri: str, state_dir: Path) -> Driver:
    parsed = urimod.parse(uri)
    name = parsed.name
    if name in _drivers:
        return _drivers[name]
    if parsed.driver == "test" and parsed.path == "/default":
        driver: Driver = TestDriver(name)
    elif name in VMM_URIS:
        from pyvirt.drivers.vmm import VmmDriver  # imported on use: lxml, qemu.qmp

        vmm = VmmDriver(name, state_dir=state_dir / parsed.driver, emulator=emulator(parsed.driver))
        await vmm.start_autostart()
        driver = vmm
    else:
        raise _no_driver(uri)
    _drivers[name] = driver
    return driver


def emulator(driver: str) -> str:
    """The VMM binary of a driver: our pyvirt-qemu (beside this Python) or Debian's QEMU."""
    if driver == "qemu":
        return shutil.which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64"
    beside = Path(sys.executable).parent / "pyvirt-qemu"
    return str(beside) if beside.exists() else shutil.which("pyvirt-qemu") or "pyvirt-qemu"


async def close_all() -> None:
    while _drivers:
        _, driver = _drivers.popitem()
        await driver.close()
