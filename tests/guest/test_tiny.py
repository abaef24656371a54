"""Boot each tiny guest (guests/tiny) under a VMM and check its serial output and exit status.

Every test runs twice through the ``vmm`` fixture: under pyvirt and under QEMU, the
reference.  A guest that passes under QEMU and fails under pyvirt points at a pyvirt
bug.  The guests end by writing a status to isa-debug-exit, so the VMM exits with
(status << 1) | 1; see guests/tiny/README.md for what each guest proves.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.support import Run, run_vmm

pytestmark = pytest.mark.kvm

EXIT_PASS = (0x10 << 1) | 1  # EXIT_PASS and EXIT_FAIL of guests/tiny/include/tiny.h
EXIT_FAIL = (0x11 << 1) | 1
INITRD_TEXT = b"hello from initrd"


def machine(mem: str = "64M") -> list[str]:
    """Options of every run: RAM, COM1 on stdout, isa-debug-exit at 0xf4, no reboot."""
    debug_exit = "isa-debug-exit,iobase=0xf4,iosize=0x04"
    return ["-m", mem, "-serial", "stdio", "-device", debug_exit, "-no-reboot"]


def kernel(path: Path, append: str | None = None, initrd: Path | None = None) -> list[str]:
    """The options that boot `path` with -kernel."""
    args = ["-kernel", str(path)]
    if append is not None:
        args += ["-append", append]
    if initrd is not None:
        args += ["-initrd", str(initrd)]
    return args


def expect_lines(run: Run, *lines: str) -> None:
    """Each of `lines` must be a whole line of the serial output."""
    got = run.out.splitlines()
    for line in lines:
        assert line in got, f"missing line {line!r}{run}"


def field(run: Run, pattern: str) -> str:
    """The first group of `pattern` matched against a whole line of the serial output."""
    m = re.search(f"^{pattern}$", run.out, re.MULTILINE)
    assert m, f"no line matching {pattern!r}{run}"
    return m.group(1)


def memory_map(run: Run, prefix: str) -> list[tuple[int, int, int]]:
    """(base, length, type) of the memory-map lines a guest printed as 'PREFIX: ...'."""
    pattern = rf"^{prefix}: \w+ 0x([0-9a-f]{{16}}) \w+ 0x([0-9a-f]{{16}}) type (\d+)$"
    return [
        (int(b, 16), int(n, 16), int(t)) for b, n, t in re.findall(pattern, run.out, re.MULTILINE)
    ]


def expect_ram_map(run: Run, prefix: str, count_line: str) -> None:
    """The map lists conventional memory at 0 and most of the 64 MiB from 1 MiB up."""
    entries = memory_map(run, prefix)
    assert len(entries) == int(field(run, count_line)), f"entry count mismatch{run}"
    ram = {base: length for base, length, kind in entries if kind == 1}
    assert 0 in ram and ram[0] >= 600 << 10, f"no low RAM at 0{run}"
    assert ram.get(1 << 20, 0) >= 60 << 20, f"no RAM from 1 MiB up{run}"


def expect_exit(run: Run, code: int) -> None:
    assert run.returncode == code, f"expected exit code {code}{run}"


@pytest.fixture
def initrd(tmp_path: Path) -> Path:
    path = tmp_path / "initrd.txt"
    path.write_bytes(INITRD_TEXT)
    return path


def test_bios_realmode(vmm: list[str], tiny_guests: Mapping[str, Path]) -> None:
    run = run_vmm([*vmm, *machine(), "-bios", str(tiny_guests["bios-realmode"])])
    expect_lines(
        run,
        "bios: reset vector reached",
        "bios: real mode, CS=0x0000f000",
        "bios: 8259 PIC remapped to 0x20/0x28",
        *(f"bios: tick {n}" for n in range(1, 6)),
        "bios: timer interrupts work, bye",
    )
    expect_exit(run, EXIT_PASS)


@pytest.mark.parametrize("status", [0, 5, 127])
def test_multiboot32(
    vmm: list[str], tiny_guests: Mapping[str, Path], initrd: Path, status: int
) -> None:
    path = tiny_guests["multiboot32"]
    run = run_vmm([*vmm, *machine(), *kernel(path, f"exit={status} hello", initrd)])
    expect_lines(
        run,
        "multiboot32: magic 0x2badb002 ok",
        f"cmdline: {path} exit={status} hello",  # Multiboot: "<kernel> <args>"
        "modules: 1",
        f"module 0 contents: {INITRD_TEXT.decode()}",
        f"exit status: {status}",
    )
    assert field(run, r"module 0: 0x[0-9a-f]+-0x[0-9a-f]+ string: (.*)") == str(initrd)
    assert 600 <= int(field(run, r"mem_lower: (\d+) KiB")) <= 640, run
    assert 60 << 10 <= int(field(run, r"mem_upper: (\d+) KiB")) <= 63 << 10, run
    expect_ram_map(run, "mmap", r"mmap entries: (\d+)")
    expect_exit(run, (status << 1) | 1)


def test_pvh64(vmm: list[str], tiny_guests: Mapping[str, Path], initrd: Path) -> None:
    append = "console=ttyS0 pvh=yes"
    run = run_vmm([*vmm, *machine(), *kernel(tiny_guests["pvh64"], append, initrd)])
    expect_lines(
        run,
        "pvh64: long mode",
        f"cmdline: {append}",
        "modules: 1",
        f"module 0 contents: {INITRD_TEXT.decode()}",
    )
    assert field(run, r"start_info: magic 0x336ec578 ok, version (\d+)") in {"1", "2"}, run
    expect_ram_map(run, "memmap", r"memmap entries: (\d+)")
    expect_exit(run, EXIT_PASS)


def test_bzimage64(vmm: list[str], tiny_guests: Mapping[str, Path], initrd: Path) -> None:
    append = "console=ttyS0 bzimage=yes"
    run = run_vmm([*vmm, *machine(), *kernel(tiny_guests["bzimage64"], append, initrd)])
    # QEMU runs the real-mode setup (entry 16); a VMM may also use the 32- or 64-bit entry.
    assert field(run, r"bzimage64: entry (16|32|64)\b.*") in {"16", "32", "64"}
    expect_lines(run, f"cmdline: {append}", f"initrd contents: {INITRD_TEXT.decode()}")
    expect_ram_map(run, "e820", r"e820 entries: (\d+)")
    expect_exit(run, EXIT_PASS)


@pytest.mark.parametrize("entry", [32, 64])
def test_bzimage64_entry(vmm: list[str], tiny_guests: Mapping[str, Path], entry: int) -> None:
    """bzimage64's 32- and 64-bit entries, reached through bzloader (a Multiboot kernel)."""
    append = f"entry={entry} console=ttyS0"
    bzimage = tiny_guests["bzimage64"]
    run = run_vmm([*vmm, *machine(), *kernel(tiny_guests["bzloader"], append, bzimage)])
    expect_lines(
        run,
        f"bzloader: jumping to the {entry}-bit entry",
        f"bzimage64: entry {entry}",
        f"cmdline: {append}",
    )
    expect_ram_map(run, "e820", r"e820 entries: (\d+)")
    expect_exit(run, EXIT_PASS)


@pytest.mark.parametrize("cpus", [1, 2, 4])
def test_smp(vmm: list[str], tiny_guests: Mapping[str, Path], cpus: int) -> None:
    run = run_vmm([*vmm, *machine(), "-smp", str(cpus), *kernel(tiny_guests["smp"])])
    expect_lines(
        run,
        "smp: BSP APIC ID 0",
        f"smp: fw_cfg reports {cpus} CPUs",
        f"smp: {cpus} of {cpus} CPUs up",
    )
    ap_ids = sorted(
        int(i) for i in re.findall(r"^smp: AP up, APIC ID (\d+)$", run.out, re.MULTILINE)
    )
    assert ap_ids == list(range(1, cpus)), f"AP APIC IDs {ap_ids}{run}"
    expect_exit(run, EXIT_PASS)


def test_interrupts(vmm: list[str], tiny_guests: Mapping[str, Path]) -> None:
    run = run_vmm([*vmm, *machine(), *kernel(tiny_guests["interrupts"])], send=b"ping\n")
    expect_lines(
        run,
        "interrupts: IOAPIC version 0x00000011, pins 24",
        "ready",
        "ping",  # the echo, from the interrupt handler
        "got: ping",
    )
    assert int(field(run, r"uart interrupts: (\d+)")) >= 1, run
    assert int(field(run, r"timer ticks: (\d+)")) >= 5, run
    expect_exit(run, EXIT_PASS)


@pytest.mark.parametrize("mib", [64, 128])
def test_platform(vmm: list[str], tiny_guests: Mapping[str, Path], mib: int) -> None:
    run = run_vmm([*vmm, *machine(f"{mib}M"), *kernel(tiny_guests["platform"])])
    expect_lines(run, f"fw_cfg: ram_size {mib} MiB", "i8042: pulsing the reset line")
    rtc = dt.datetime.strptime(field(run, r"rtc: (.*)"), "%Y-%m-%d %H:%M:%S")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # the RTC runs in UTC
    assert abs((rtc - now).total_seconds()) < 300, f"RTC {rtc} vs host {now} UTC{run}"
    expect_exit(run, 0)  # the reset, with -no-reboot, ends the VMM with status 0


def test_portscan(vmm: list[str], tiny_guests: Mapping[str, Path]) -> None:
    """Reading every port and unbacked memory: answered, never fatal."""
    run = run_vmm([*vmm, *machine(), *kernel(tiny_guests["portscan"])])
    assert run.returncode == EXIT_PASS, run
    assert "portscan: unbacked memory read as" in run.out
