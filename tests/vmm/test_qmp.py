"""QMP, driven with the qemu.qmp client library, against pyvirt-qemu and, for the same
commands, against QEMU: greeting, negotiation, errors, queries, events, stop/cont.

The guest is the tiny `counter` guest, which prints "count N" every 100 ms.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import pytest
from qemu.qmp import ExecuteError

from tests.qmp_vm import QmpVm

pytestmark = pytest.mark.kvm

UUID = "12345678-9abc-def0-1234-56789abcdef0"
Scenario = Callable[[QmpVm], Awaitable[None]]


def run(vmm: list[str], tiny_guests: Mapping[str, Path], tmp_path: Path, scenario: Scenario,
        *options: str) -> None:  # fmt: skip
    """Start the counter guest under `vmm` and run `scenario` against it."""

    async def main() -> None:
        vm = QmpVm(vmm, tmp_path, "-m", "64M", "-name", "qmp-test", "-uuid", UUID,
                   "-kernel", str(tiny_guests["counter"]), *options)  # fmt: skip
        try:
            await vm.connect()
            await scenario(vm)
        finally:
            await vm.close()

    asyncio.run(main())


class Raw:
    """A bare socket client, for what qemu.qmp will not send (bad JSON, early commands)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")

    def receive(self) -> dict:
        while True:
            message = json.loads(self.file.readline())
            if "event" not in message:
                return message

    def send(self, text: str) -> dict:
        self.sock.sendall(text.encode() + b"\n")
        return self.receive()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def second_monitor(tmp_path: Path) -> tuple[Path, tuple[str, str]]:
    """A second QMP socket: QEMU's monitors serve one client at a time each."""
    path = tmp_path / "raw.qmp"
    return path, ("-qmp", f"unix:{path},server=on,wait=off")


def test_greeting_negotiation_and_errors(vmm, tiny_guests, tmp_path) -> None:
    raw_socket, option = second_monitor(tmp_path)

    async def scenario(vm: QmpVm) -> None:
        raw = Raw(raw_socket)
        try:
            greeting = raw.receive()["QMP"]
            assert set(greeting) == {"version", "capabilities"}
            assert set(greeting["version"]) == {"qemu", "package"}
            assert set(greeting["version"]["qemu"]) == {"major", "minor", "micro"}
            assert greeting["capabilities"] == ["oob"]
            early = raw.send('{"execute": "query-status", "id": 1}')
            assert early == {
                "id": 1,
                "error": {
                    "class": "CommandNotFound",
                    "desc": "Expecting capabilities negotiation with 'qmp_capabilities'",
                },
            }
            assert raw.send('{"execute": "qmp_capabilities"}') == {"return": {}}
            again = raw.send('{"execute": "qmp_capabilities"}')["error"]
            assert again["class"] == "CommandNotFound"
            assert raw.send('{"execute": "no-such", "id": "x"}') == {
                "id": "x",
                "error": {
                    "class": "CommandNotFound",
                    "desc": "The command no-such has not been found",
                },
            }
            bad_json = raw.send('{"execute": }')["error"]
            assert bad_json["class"] == "GenericError"
            assert bad_json["desc"].startswith("JSON parse error")
            assert raw.send("[1, 2]")["error"]["desc"] == "QMP input must be a JSON object"
            assert raw.send('{"id": 7}') == {
                "id": 7,
                "error": {"class": "GenericError", "desc": "QMP input lacks member 'execute'"},
            }
            bad_arg = raw.send('{"execute": "query-status", "arguments": {"x": 1}}')
            assert bad_arg["error"] == {
                "class": "GenericError",
                "desc": "Parameter 'x' is unexpected",
            }
            wrong_type = raw.send(
                '{"execute": "human-monitor-command", "arguments": {"command-line": 5}}'
            )
            assert wrong_type["error"]["desc"] == (
                "Invalid parameter type for 'command-line', expected: string"
            )
            missing = raw.send('{"execute": "migrate", "arguments": {}}')
            assert missing["error"]["desc"] == "Parameter 'uri' is missing"
            reply = raw.send('{"execute": "query-status", "id": {"nested": [1]}}')
            assert reply["id"] == {"nested": [1]} and reply["return"]["running"] is True
        finally:
            raw.close()

    run(vmm, tiny_guests, tmp_path, scenario, *option)


def test_garbage_and_disconnects_leave_other_clients_served(vmm, tiny_guests, tmp_path) -> None:
    raw_socket, option = second_monitor(tmp_path)

    async def scenario(vm: QmpVm) -> None:
        for junk in (b"\xff\xfe garbage }}} ]\n", b'{"unterminated": "str\n', b"{" * 2000):
            rude = socket.socket(socket.AF_UNIX)
            rude.connect(str(raw_socket))
            rude.sendall(junk)
            rude.close()  # gone mid-request
        assert (await vm.qmp.execute("query-status"))["status"] == "running"
        raw = Raw(raw_socket)
        try:
            raw.receive()
            raw.send('{"execute": "qmp_capabilities"}')
            assert raw.send('{"execute": "query-kvm"}') == {
                "return": {"enabled": True, "present": True}
            }
        finally:
            raw.close()
        assert (await vm.qmp.execute("query-name")) == {"name": "qmp-test"}

    run(vmm, tiny_guests, tmp_path, scenario, *option)


def test_queries(vmm, tiny_guests, tmp_path) -> None:
    async def scenario(vm: QmpVm) -> None:
        q = vm.qmp.execute
        version = await q("query-version")
        assert version["qemu"]["major"] >= 7
        names = {c["name"] for c in await q("query-commands")}
        assert {
            "qmp_capabilities",
            "query-status",
            "stop",
            "cont",
            "migrate",
            "quit",
            "human-monitor-command",
            "query-migrate",
            "system_powerdown",
        } <= names
        assert await q("query-status") == {
            "status": "running",
            "singlestep": False,
            "running": True,
        }
        assert await q("query-name") == {"name": "qmp-test"}
        assert await q("query-uuid") == {"UUID": UUID}
        assert await q("query-kvm") == {"enabled": True, "present": True}
        (cpu,) = await q("query-cpus-fast")
        assert cpu["cpu-index"] == 0 and cpu["target"] == "x86_64" and cpu["thread-id"] > 0
        assert await q("query-block") == []
        chardevs = {c["label"]: c for c in await q("query-chardev")}
        assert chardevs["compat_monitor0"]["filename"] == f"unix:{vm.socket},server=on"
        assert chardevs["serial0"]["filename"] == "file"
        (bus,) = await q("query-pci")
        assert bus["bus"] == 0 and bus["devices"][0]["slot"] == 0  # the host bridge
        assert await q("query-migrate") == {}
        hmp = "human-monitor-command"
        assert await q(hmp, {"command-line": "info status"}) == "VM status: running\r\n"
        registers = await q(hmp, {"command-line": "info registers"})
        assert registers.startswith("\r\nCPU#0\r\n")
        assert "IP=" in registers and "\r\nCR0=" in registers and "EFER=" in registers
        with pytest.raises(ExecuteError) as err:
            await q("migrate", {"uri": "carrier-pigeon:coop"})
        assert err.value.error_class == "GenericError"
        assert str(err.value) == "Parameter 'uri' expects a valid migration protocol"

    run(vmm, tiny_guests, tmp_path, scenario)


def test_stop_and_cont_freeze_the_count(vmm, tiny_guests, tmp_path) -> None:
    async def scenario(vm: QmpVm) -> None:
        await vm.wait_for_count(3)
        await vm.qmp.execute("stop")
        await vm.event("STOP")
        status = await vm.qmp.execute("query-status")
        assert status == {"status": "paused", "singlestep": False, "running": False}
        hmp = {"command-line": "info status"}
        assert await vm.qmp.execute("human-monitor-command", hmp) == "VM status: paused\r\n"
        frozen = vm.counts()[-1]
        await asyncio.sleep(0.8)
        assert vm.counts()[-1] == frozen, "the guest kept counting while paused"
        await vm.qmp.execute("stop")  # stopping a stopped VM is fine
        await vm.qmp.execute("cont")
        await vm.event("RESUME")
        after = await vm.wait_for_count(frozen + 3)
        # The guest's clock did not jump: the count resumed where it was.
        assert vm.counts()[vm.counts().index(frozen) + 1] == frozen + 1
        assert after >= frozen + 3

    run(vmm, tiny_guests, tmp_path, scenario)


def test_start_paused_with_S(vmm, tiny_guests, tmp_path) -> None:
    async def scenario(vm: QmpVm) -> None:
        status = await vm.qmp.execute("query-status")
        assert status == {"status": "prelaunch", "singlestep": False, "running": False}
        await asyncio.sleep(0.5)
        assert vm.counts() == []
        await vm.qmp.execute("cont")
        await vm.event("RESUME")
        await vm.wait_for_count(2)

    run(vmm, tiny_guests, tmp_path, scenario, "-S")


def test_system_reset_and_quit_events(vmm, tiny_guests, tmp_path) -> None:
    async def scenario(vm: QmpVm) -> None:
        await vm.wait_for_count(2)
        await vm.qmp.execute("system_reset")
        reset = await vm.event("RESET")
        assert reset["data"] == {"guest": False, "reason": "host-qmp-system-reset"}
        await vm.qmp.execute("system_powerdown")
        await vm.event("POWERDOWN")
        await vm.qmp.execute("quit")
        shutdown = await vm.event("SHUTDOWN")
        assert shutdown["data"] == {"guest": False, "reason": "host-qmp-quit"}
        assert set(shutdown["timestamp"]) == {"seconds", "microseconds"}
        assert await asyncio.get_running_loop().run_in_executor(None, vm.wait) == 0

    run(vmm, tiny_guests, tmp_path, scenario)


# QEMU 7.2's BlockDeviceStats for a drive: what libvirt's block statistics read.
BLOCK_STATS_KEYS = {
    *(f"{kind}_{what}" for kind in ("rd", "wr", "unmap") for what in ("bytes", "merged")),
    *(
        f"{prefix}{kind}_operations"
        for kind in ("rd", "wr", "flush", "unmap")
        for prefix in ("", "failed_", "invalid_")
    ),
    *(f"{kind}_total_time_ns" for kind in ("rd", "wr", "flush", "unmap")),
    "wr_highest_offset", "account_invalid", "account_failed", "timed_stats",
}  # fmt: skip


def test_blockstats(vmm, tiny_guests, tmp_path) -> None:
    """query-blockstats lists each drive by its -drive id, with QEMU's counters, zero
    while the guest has not touched the disk."""
    disk = tmp_path / "disk.raw"
    disk.write_bytes(bytes(1 << 20))

    async def scenario(vm: QmpVm) -> None:
        (entry,) = await vm.qmp.execute("query-blockstats")
        assert entry["device"] == "drive-virtio-disk0"
        assert set(entry["stats"]) == BLOCK_STATS_KEYS
        assert entry["stats"]["rd_operations"] == entry["stats"]["wr_bytes"] == 0

    run(vmm, tiny_guests, tmp_path, scenario,
        "-drive", f"file={disk},format=raw,if=none,id=drive-virtio-disk0",
        "-device", "virtio-blk-pci,drive=drive-virtio-disk0,id=virtio-disk0")  # fmt: skip
