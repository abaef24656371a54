"""Driver selection by connection URI.

Drivers are shared per URI inside one daemon, as libvirtd shares them: every
client of `test:///default` sees the same domains and every client gets the
events of all of them. The daemon closes them with close_all() when it stops.
"""

from __future__ import annotations

from pathlib import Path

from pyvirt import uri as urimod
from pyvirt.drivers.base import Driver
from pyvirt.drivers.test import TestDriver
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

_drivers: dict[str, Driver] = {}

VMM_URIS = ("pyvirt:///session", "pyvirt:///system", "qemu:///session", "qemu:///system")


def _no_driver(uri: str, why: str = "") -> VirtError:
    return VirtError(
        ErrorCode.NO_CONNECT,
        f"no connection driver available for {uri}{why}",
        ErrorDomain.NONE,
    )


async def open_driver(uri: str, *, state_dir: Path, readonly: bool) -> Driver:
    parsed = urimod.parse(uri)
    name = parsed.name
    if name in _drivers:
        return _drivers[name]
    if parsed.driver == "test" and parsed.path == "/default":
        driver: Driver = TestDriver(name)
    elif name in VMM_URIS:
        try:
            from pyvirt.drivers.vmm import VmmDriver  # the model side's driver
        except ImportError:
            raise _no_driver(uri, " (the VMM driver is not built yet)") from None
        driver = VmmDriver(name, state_dir=state_dir / parsed.driver)
    else:
        raise _no_driver(uri)
    _drivers[name] = driver
    return driver


async def close_all() -> None:
    while _drivers:
        _, driver = _drivers.popitem()
        await driver.close()
