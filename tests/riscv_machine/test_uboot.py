"""OpenSBI + Debian's S-mode U-Boot to its prompt, where `version` answers."""

from __future__ import annotations

import pytest

from tests.linux.serial import Serial

from .conftest import OPENSBI, UBOOT

pytestmark = pytest.mark.skipif(
    not (UBOOT.exists() and OPENSBI.exists()), reason="needs Debian's u-boot-qemu and opensbi"
)


def test_uboot_prompt_answers_version(vmm: list[str]) -> None:
    serial = Serial([*vmm, "-m", "128M", "-nographic", "-bios", "default",
                     "-kernel", str(UBOOT)])  # fmt: skip
    try:
        serial.expect("OpenSBI v1.1", 60)
        serial.expect("Hit any key to stop autoboot", 120)
        serial.type("")
        after = serial.expect("=> ", 60)
        serial.type("version")
        serial.expect("U-Boot 2023.01", 60, after)
        serial.expect("riscv64-linux-gnu-gcc", 30, after)
        serial.proc.stdin.write(b"\x01x")  # Ctrl-a x: quit, as in QEMU
        serial.proc.stdin.flush()
        assert serial.wait(30) == 0
    finally:
        serial.close()
