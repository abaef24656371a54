"""How the VMM process lives and ends: power-off, reset, triple fault, signals, pidfile."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.conftest import PYVIRT_QEMU
from tests.support import run_vmm

pytestmark = pytest.mark.kvm

PYVIRT = [*PYVIRT_QEMU, "-nodefaults", "-m", "64M"]
DEBUG_EXIT = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]


def test_triple_fault_is_reported(tiny_guests: Mapping[str, Path]) -> None:
    run = run_vmm([*PYVIRT, "-serial", "stdio", "-kernel", str(tiny_guests["triple-fault"])])
    assert run.returncode == 1, run
    assert "loading an empty IDT" in run.out
    assert "pyvirt-qemu: vCPU 0: triple fault (KVM_EXIT_SHUTDOWN)" in run.err, run
    assert (
        "RIP=" in run.err and "CR0=" in run.err and "IDT=     0000000000000000 00000000" in run.err
    )


def test_reset_with_no_reboot_exits_zero(tiny_guests: Mapping[str, Path]) -> None:
    run = run_vmm([*PYVIRT, "-serial", "stdio", "-no-reboot", "-kernel",
                   str(tiny_guests["platform"])])  # fmt: skip
    assert run.returncode == 0, run
    assert "i8042: pulsing the reset line" in run.out


def _occurrences(path: Path, text: str) -> int:
    return path.read_text(errors="replace").count(text) if path.exists() else 0


def test_reset_reboots_and_sigterm_ends_cleanly(
    tiny_guests: Mapping[str, Path], tmp_path: Path
) -> None:
    """Without -no-reboot a reset boots the guest again; SIGTERM then ends the VMM with 0."""
    log = tmp_path / "serial.log"
    pidfile = tmp_path / "vmm.pid"
    proc = subprocess.Popen(
        [*PYVIRT, "-serial", f"file:{log}", "-pidfile", str(pidfile), "-kernel",
         str(tiny_guests["platform"])],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while _occurrences(log, "i8042: pulsing the reset line") < 2:
            assert time.monotonic() < deadline and proc.poll() is None, "no second boot"
            time.sleep(0.05)
        assert pidfile.read_text().strip() == str(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert b"terminating on signal 15" in err
    assert not pidfile.exists(), "the pidfile is removed at exit"


def test_pidfile_of_a_live_vmm_is_refused(tiny_guests: Mapping[str, Path], tmp_path: Path) -> None:
    pidfile = tmp_path / "vmm.pid"
    pidfile.write_text(f"{os.getpid()}\n")  # a live process: this test
    run = run_vmm([*PYVIRT, "-pidfile", str(pidfile), "-kernel", str(tiny_guests["bench"])])
    assert run.returncode == 1
    assert f"cannot create PID file '{pidfile}': process {os.getpid()} is running" in run.err
    assert pidfile.read_text() == f"{os.getpid()}\n"


def test_debug_exit_status(tiny_guests: Mapping[str, Path]) -> None:
    run = run_vmm([*PYVIRT, *DEBUG_EXIT, "-kernel", str(tiny_guests["bench"])])
    assert run.returncode == (0x10 << 1) | 1, run
