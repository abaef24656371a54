"""QMP system_powerdown presses the ACPI power button: the guest's init powers off cleanly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from qemu.qmp import QMPClient

from .conftest import LinuxGuest
from .guest import Guest


@pytest.mark.linux
def test_system_powerdown(vmm: list[str], linux_guest: LinuxGuest, tmp_path: Path) -> None:
    socket = tmp_path / "qmp.sock"
    with Guest(vmm, linux_guest, "-qmp", f"unix:{socket},server=on,wait=off") as guest:
        guest.wait_ready()

        async def press() -> list[dict]:
            qmp = QMPClient("powerdown")
            await qmp.connect(str(socket))
            try:
                await qmp.execute("system_powerdown")
                events = []
                while not events or events[-1]["event"] != "SHUTDOWN":
                    events.append(dict(await asyncio.wait_for(qmp.events.get(), 60)))
                return events
            finally:
                await qmp.disconnect()

        events = asyncio.run(press())
        assert [e["event"] for e in events] == ["POWERDOWN", "SHUTDOWN"], events
        assert events[-1]["data"] == {"guest": True, "reason": "guest-shutdown"}
        assert guest.serial.wait(60) == 0, f"VMM exit status is not 0{guest}"
        assert "PYVIRT_GUEST_POWERDOWN" in guest.output
