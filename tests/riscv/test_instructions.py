"""Each guests/riscv-tests program prints the same output on our hart as on QEMU."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyvirt.tcg.riscv.baremetal import run_elf
from tests.riscv.conftest import BUILD, run_qemu


@pytest.mark.parametrize("name", BUILD.names())
@pytest.mark.parametrize("max_block", [64, 1], ids=["translated", "interpreted"])
def test_matches_qemu(riscv_elfs: dict[str, Path], name: str, max_block: int) -> None:
    elf = riscv_elfs[name]
    status, expected = run_qemu(elf)
    result = run_elf(elf, timeout=60, max_block=max_block)
    assert result.output.decode() == expected.decode()
    assert (result.status, status) == (0, 0)
