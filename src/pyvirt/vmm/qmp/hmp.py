"""human-monitor-command: the few HMP commands management tools send through QMP, with
QEMU's output (lines end in CRLF, as the HMP prints them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyvirt.vmm.runner import Vmm


def _crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


async def run(vmm: Vmm, command_line: str) -> str:
    words = command_line.split()
    if words == ["info", "status"]:
        state = vmm.run_state
        detail = "running" if state == "running" else "paused" if state == "paused" else (
            f"paused ({state})")  # fmt: skip
        return f"VM status: {detail}\r\n"
    if words[:2] == ["info", "registers"] and words[2:] in ([], ["-a"]):
        count = len(vmm.threads) if words[2:] else min(1, len(vmm.threads))
        dumps = [await vmm.cpu_registers(index) for index in range(count)]
        return _crlf("".join(f"\nCPU#{i}\n{dump}\n" for i, dump in enumerate(dumps)))
    return f"unknown command: '{command_line}'\r\n"
