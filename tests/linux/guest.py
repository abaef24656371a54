"""A booted Linux test guest whose shell the test drives over the serial console."""

from __future__ import annotations

import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .serial import Serial

READY = "PYVIRT_GUEST_READY"
BOOT_TIMEOUT = 180.0  # ~16 s under QEMU here; generous for a loaded 2-core host
COMMAND_TIMEOUT = 60.0
# QEMU's pc machine computes the PCI interrupt routing (_PRT) in a 128-step
# AML While loop, which Linux evaluates each time it enables a PCI device.
# With the guest kernel emulated (DESIGN.md) one evaluation runs into
# ACPICA's 30 s loop timeout and logs "ACPI Error: ... AE_AML_LOOP_TIMEOUT".
# acpi=noirq routes PCI INTx through the BIOS's $PIR table instead (virtio
# uses MSI-X anyway); ACPI still enumerates the bus. pyvirt's DSDT is tested
# as is.
QEMU_APPEND = "acpi=noirq"


def is_pyvirt(vmm: Sequence[str]) -> bool:
    """Whether the `vmm` fixture's argv is pyvirt (else it is QEMU, the reference)."""
    return "pyvirt.vmm" in vmm


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class LinuxGuest:
    """Paths of one cached build of the guest, and its recommended kernel command line."""

    dir: Path
    vmlinux: Path  # uncompressed ELF, PVH entry
    bzimage: Path  # LZ4 bzImage
    initramfs: Path  # uncompressed newc cpio
    cmdline: str

    @classmethod
    def from_dir(cls, out: Path) -> LinuxGuest:
        """The build in `out`, a directory guests/linux/build.sh printed."""
        return cls(
            dir=out,
            vmlinux=out / "vmlinux",
            bzimage=out / "bzImage",
            initramfs=out / "initramfs.cpio",
            cmdline=(out / "cmdline").read_text().strip(),
        )


class CommandFailed(AssertionError):
    pass


class Guest:
    """The minimal Linux guest (PVH vmlinux, 1 vCPU) booted with extra VMM options.

    `run()` types a shell command on ttyS0 and returns its output, framed by
    markers the typed line itself cannot contain. Use as a context manager: the
    VMM is killed on the way out if the test did not power the guest off.
    """

    _count = 0

    def __init__(
        self,
        vmm: Sequence[str],
        guest: LinuxGuest,
        *options: str,
        append: str = "",
        memory: str = "256M",
        name: str = "guest",
    ) -> None:
        self.name = name
        cmdline = guest.cmdline
        if not is_pyvirt(vmm):
            cmdline += " " + QEMU_APPEND
        if append:
            cmdline += " " + append
        self.serial = Serial(
            [
                *vmm,
                "-m", memory,
                "-smp", "1",
                "-kernel", str(guest.vmlinux),
                "-initrd", str(guest.initramfs),
                "-append", cmdline,
                "-serial", "stdio",
                "-no-reboot",
                *options,
            ]
        )  # fmt: skip
        self._pos = 0
        self._commands: dict[str, str] = {}

    def __enter__(self) -> Guest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_ready(self, timeout: float = BOOT_TIMEOUT) -> None:
        """Wait for /init's marker and the shell's prompt.

        The tty keeps echoing: with `stty -echo`, busybox's shell reads lines
        with fgets(), and a background job that ends while it waits there
        ends the shell too (the interrupted read counts as end of file).
        """
        self._pos = self.serial.expect(READY + "\r\n", timeout)
        print(f"{self.name}: {READY} after {self.serial.elapsed:.1f} s", file=sys.stderr)
        self._pos = self.serial.expect("# ", 60, after=self._pos)

    def run(self, command: str, timeout: float = COMMAND_TIMEOUT, check: bool = True) -> str:
        """Run `command` in the guest's shell; its output (stdout and stderr), `\\r` removed.

        With `check`, a non-zero exit status raises CommandFailed.
        """
        status = self.run_status(command, timeout)
        if check and status[0] != 0:
            raise CommandFailed(
                f"{self.name}: `{command}` exited with {status[0]}:\n{status[1]}{self.serial}"
            )
        return status[1]

    def run_status(self, command: str, timeout: float = COMMAND_TIMEOUT) -> tuple[int, str]:
        """Run `command`; its exit status and output."""
        return self.finish(self.start(command), timeout)

    def start(self, command: str) -> str:
        """Type `command` and return at once; `finish()` with the returned tag waits for it."""
        Guest._count += 1
        tag = f"PYVIRT_{Guest._count}"
        # The markers come from `echo`; the tty's echo of the typed line
        # cannot be taken for them: there they read _B''EGIN and _E''ND $?.
        # A command that ends in "&" runs in the background; the status is then 0.
        sep = " " if command.rstrip().endswith("&") else "; "
        self.serial.type(f"echo {tag}_B''EGIN; {command}{sep}echo {tag}_E''ND $?")
        self._commands[tag] = command
        return tag

    def finish(self, tag: str, timeout: float = COMMAND_TIMEOUT) -> tuple[int, str]:
        """Wait for the command `start()` typed; its exit status and output."""
        command = self._commands.pop(tag)
        begin = self.serial.expect(f"{tag}_BEGIN\r\n", timeout, after=self._pos)
        end = self.serial.expect(f"{tag}_END ", timeout, after=begin)
        self._pos = self.serial.expect("\n", timeout, after=end)
        status = self.serial.output[end : self._pos].strip()
        if not status.isdigit():
            raise AssertionError(f"{self.name}: no exit status after `{command}`{self.serial}")
        output = self.serial.output[begin : end - len(f"{tag}_END ")]
        return int(status), output.replace("\r", "")

    def expect(self, marker: str, timeout: float = COMMAND_TIMEOUT) -> str:
        """Wait for `marker` in the output of the running command; the line it ends."""
        end = self.serial.expect(marker, timeout, after=self._pos)
        eol = self.serial.expect("\n", timeout, after=end)
        line_start = self.serial.output.rfind("\n", 0, end - len(marker)) + 1
        return self.serial.output[line_start:eol].strip()

    def poweroff(self, timeout: float = 60) -> None:
        """`poweroff -f`; the VMM must exit with status 0."""
        self.serial.type("poweroff -f")
        status = self.serial.wait(timeout)
        assert status == 0, f"{self.name}: VMM exit status {status}, not 0{self.serial}"
        assert "Kernel panic" not in self.serial.output, f"the guest panicked{self.serial}"

    def close(self) -> None:
        self.serial.close()

    @property
    def output(self) -> str:
        return self.serial.output

    def __str__(self) -> str:
        return str(self.serial)
