"""Two identical pyvirtd daemons (test:///default): the real virsh drives one, pyvirsh the
other, with the same commands, so their outputs can be compared line for line."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.daemon.daemons import Daemon, start_pyvirtd

VIRSH = shutil.which("virsh")
PYVIRSH = [sys.executable, "-m", "pyvirt.virsh"]
CPU_TIME = re.compile(r"^(CPU time:\s+)[\d.]+s$", re.M)


@dataclass(frozen=True)
class Result:
    status: int
    stdout: str
    stderr: str


def normalise(text: str, top: Path) -> str:
    """Only what differs by nature: CPU time, and each daemon's own directory."""
    return CPU_TIME.sub(r"\1<cpu>", text).replace(str(top), "<top>")


def run(argv: list[str], env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, input=stdin)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Pair:
    """The real virsh on `ref`, pyvirsh on `ours`: two daemons in the same state."""

    ref: Daemon
    ours: Daemon
    ref_top: Path
    ours_top: Path

    def both(self, *args: str, env: dict[str, str] | None = None) -> tuple[Result, Result]:
        assert VIRSH is not None
        full_env = {**os.environ, **(env or {})}
        ref = run([VIRSH, "-c", self.ref.uri(), *args], full_env)
        ours = run([*PYVIRSH, "-c", self.ours.uri(), *args], full_env)
        return (
            Result(ref.status, normalise(ref.stdout, self.ref_top),
                   normalise(ref.stderr, self.ref_top)),
            Result(ours.status, normalise(ours.stdout, self.ours_top),
                   normalise(ours.stderr, self.ours_top)),
        )  # fmt: skip

    def script(self, commands: list[list[str]]) -> Result:
        """Many commands in one `;`-separated command string (one process per tool)."""
        line = " ; ".join(" ".join(shlex.quote(word) for word in cmd) for cmd in commands)
        return self.same(line)

    def same(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """Run both; assert identical exit status, stdout and stderr; return ours."""
        ref, ours = self.both(*args, env=env)
        assert ours == ref, f"pyvirsh {' '.join(args)}"
        return ours


@pytest.fixture
def pair() -> Iterator[Pair]:
    if VIRSH is None:
        pytest.skip("virsh is not installed (apt-get install libvirt-clients)")
    with (
        tempfile.TemporaryDirectory(prefix="pv-") as a,
        tempfile.TemporaryDirectory(prefix="pv-") as b,
    ):
        ref, ours = start_pyvirtd(Path(a)), start_pyvirtd(Path(b))
        try:
            yield Pair(ref, ours, Path(a), Path(b))
        finally:
            ref.stop()
            ours.stop()
