"""Two identical pyvirtd daemons (test:///default): the real virsh drives one, pyvirsh the
other, with the same commands, so their outputs can be compared line for line."""

from __future__ import annotations

import difflib
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
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Result:
    status: int
    stdout: str
    stderr: str


def normalise(text: str, top: Path, uuids: bool = False) -> str:
    """Only what differs by nature: CPU time, each daemon's own directory, and (with `uuids`)
    the random UUIDs of objects that cannot be given one (pool-define-as)."""
    text = CPU_TIME.sub(r"\1<cpu>", text).replace(str(top), "<top>")
    return UUID.sub("<uuid>", text) if uuids else text


USAGE = re.compile(r"^usage: .*\n", re.M)


def run(argv: list[str], env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, input=stdin)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def diff(ref: Result, ours: Result) -> str:
    lines = [f"status: virsh {ref.status}, pyvirsh {ours.status}"]
    for name in ("stdout", "stderr"):
        a, b = getattr(ref, name).splitlines(), getattr(ours, name).splitlines()
        lines += difflib.unified_diff(a, b, f"virsh {name}", f"pyvirsh {name}", lineterm="")
    return "\n".join(lines)


@dataclass
class Pair:
    """The real virsh on `ref`, pyvirsh on `ours`: two daemons in the same state."""

    ref: Daemon
    ours: Daemon
    ref_top: Path
    ours_top: Path

    def both(
        self, *args: str, env: dict[str, str] | None = None, uuids: bool = False
    ) -> tuple[Result, Result]:
        assert VIRSH is not None
        full_env = {**os.environ, **(env or {})}
        ref = run([VIRSH, "-c", self.ref.uri(), *args], full_env)
        ours = run([*PYVIRSH, "-c", self.ours.uri(), *args], full_env)
        return (
            Result(ref.status, normalise(ref.stdout, self.ref_top, uuids),
                   normalise(ref.stderr, self.ref_top, uuids)),
            # pyvirsh adds the command's synopsis after a usage error (test_usage_errors)
            Result(ours.status, normalise(ours.stdout, self.ours_top, uuids),
                   USAGE.sub("", normalise(ours.stderr, self.ours_top, uuids))),
        )  # fmt: skip

    def ours_run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return run([*PYVIRSH, "-c", self.ours.uri(), *args], {**os.environ, **(env or {})})

    def script(self, commands: list[list[str]], uuids: bool = False) -> Result:
        """Many commands in one `;`-separated command string (one process per tool)."""
        line = " ; ".join(" ".join(shlex.quote(word) for word in cmd) for cmd in commands)
        return self.same(line, uuids=uuids)

    def same(self, *args: str, env: dict[str, str] | None = None, uuids: bool = False) -> Result:
        """Run both; assert identical exit status, stdout and stderr; return ours."""
        ref, ours = self.both(*args, env=env, uuids=uuids)
        assert ours == ref, f"pyvirsh {' '.join(args)}\n" + diff(ref, ours)
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
