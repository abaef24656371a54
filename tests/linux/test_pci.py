"""Linux enumerates our PCI bus and drives a virtio-pci device: the host bridge and the
device are found, the log has no PCI/ACPI complaints, and /dev/hwrng reads entropy
through the virtio-rng queue, interrupted by MSI-X (or, with pci=nomsi, by INTx and the
ISR). QEMU (q35, virtio-rng-pci) runs the same checks as the reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.conftest import vmm_argv

from .conftest import LinuxGuest
from .serial import Serial

READY = "PYVIRT_GUEST_READY"
# Not about PCI: the ACPI event netlink family needs CONFIG_NET, which the guest lacks
# (QEMU's run shows the same line).
UNRELATED = {"ACPI: Failed to create genetlink family for ACPI event"}


@dataclass
class GuestReport:
    devices: dict[str, tuple[int, int, int, int]]  # slot name -> vendor, device, class, irq
    complaints: list[str]
    rng: bytes
    interrupts: list[str]


def _command(serial: Serial, pos: int, command: str, step: int) -> tuple[str, int]:
    """Type `command`, wait for it to finish; returns the output so far and the new position.

    The shell echoes what we type, so each marker is spelled so that its echo differs
    from its output ($((n+1)) vs n+1, and a quoted split).
    """
    serial.type(f"{command}; echo STEP-$(({step}+1))")
    end = serial.expect(f"STEP-{step + 1}\r\n", 60, after=pos)
    return serial.output[pos:end], end


def _lines(text: str, tag: str) -> list[str]:
    return [m[1].rstrip("\r") for m in re.finditer(rf"^{tag} (.*)$", text, re.M)]


def boot_and_inspect(argv: list[str], guest: LinuxGuest, append: str = "") -> GuestReport:
    serial = Serial(
        [
            *argv,
            "-m", "256M",
            "-kernel", str(guest.vmlinux),
            "-initrd", str(guest.initramfs),
            "-append", f"{guest.cmdline} {append}".strip(),
            "-serial", "stdio",
            "-no-reboot",
        ]
    )  # fmt: skip
    try:
        pos = serial.expect(READY + "\r\n", 120)
        pos = serial.expect("# ", 30, after=pos)
        out, pos = _command(
            serial,
            pos,
            'for d in /sys/bus/pci/devices/*; do echo "PCI""DEV ${d##*/}"'
            " $(cat $d/vendor $d/device $d/class $d/irq); done",
            1,
        )
        devices = {}
        for line in _lines(out, "PCIDEV"):
            name, *values = line.split()
            devices[name] = tuple(int(v, 0) for v in values)
        out, pos = _command(
            serial, pos, "dmesg | grep -i -E 'error|fail|warn' | sed 's/^/COMP''LAINT /'", 2
        )
        complaints = _lines(out, "COMPLAINT")
        out, pos = _command(
            serial,
            pos,
            "dd if=/dev/hwrng bs=32 count=1 2>/dev/null | od -An -v -tx1 | sed 's/^/RNG''BYTES /'",
            3,
        )
        rng = bytes.fromhex("".join(_lines(out, "RNGBYTES")))
        out, pos = _command(serial, pos, "grep virtio /proc/interrupts | sed 's/^/IRQ''LINE /'", 4)
        interrupts = _lines(out, "IRQLINE")
        serial.type("poweroff -f")
        assert serial.wait(60) == 0, f"VMM exit status is not 0{serial}"
        assert "Kernel panic" not in serial.output, f"the guest panicked{serial}"
        return GuestReport(devices, complaints, rng, interrupts)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- serial ---\n{serial.output}") from None
    finally:
        serial.close()


@pytest.fixture
def pci_guest(linux_guest: LinuxGuest) -> LinuxGuest:
    config = (linux_guest.dir / "config").read_text()
    for option in ("CONFIG_PCI_MSI=y", "CONFIG_VIRTIO_PCI=y", "CONFIG_HW_RANDOM_VIRTIO=y"):
        if option not in config:
            pytest.skip(f"the Linux test guest is built without {option}")
    return linux_guest


def _virtio(report: GuestReport) -> tuple[int, int, int, int]:
    found = [d for d in report.devices.values() if d[:2] == (0x1AF4, 0x1044)]
    assert len(found) == 1, report
    return found[0]


def _irq_count(line: str) -> int:
    return int(line.split()[1])


@pytest.mark.linux
@pytest.mark.parametrize("mode", ["msix", "intx"])
def test_pyvirt_linux_enumerates_pci_and_uses_virtio(pci_guest: LinuxGuest, mode: str) -> None:
    argv = vmm_argv("pyvirt", "-display", "none", "-nodefaults", "-device", "virtio-rng-pci")
    report = boot_and_inspect(argv, pci_guest, "pci=nomsi" if mode == "intx" else "")

    assert report.devices["0000:00:00.0"][:3] == (0x1B36, 0x0008, 0x060000)  # host bridge
    assert _virtio(report)[2] == 0x00FF00
    assert [c for c in report.complaints if c not in UNRELATED] == []
    assert len(report.rng) == 32 and report.rng != bytes(32)
    if mode == "msix":
        (queue,) = [line for line in report.interrupts if "virtio0-input" in line]
        assert "PCI-MSI" in queue and _irq_count(queue) > 0
        assert any("virtio0-config" in line for line in report.interrupts)
    else:
        (line,) = report.interrupts
        assert "IO-APIC" in line and "fasteoi" in line  # level-triggered INTA
        assert _virtio(report)[3] == 16 + 1  # slot 1's INTA, swizzled onto GSI 17
        assert _irq_count(line) > 0


@pytest.mark.linux
@pytest.mark.qemu
def test_qemu_reference_passes_the_same_checks(pci_guest: LinuxGuest) -> None:
    argv = vmm_argv("qemu", "-display", "none", "-nodefaults", "-machine", "q35",
                    "-device", "virtio-rng-pci,disable-legacy=on")  # fmt: skip
    report = boot_and_inspect(argv, pci_guest)
    assert _virtio(report)[2] == 0x00FF00
    assert [c for c in report.complaints if c not in UNRELATED] == []
    assert len(report.rng) == 32
    assert any("PCI-MSI" in line and "virtio0-input" in line for line in report.interrupts)
