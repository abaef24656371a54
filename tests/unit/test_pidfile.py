"""runner.write_pidfile: atomic, and never taking over a live process's pid file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.runner import write_pidfile


def test_writes_our_pid(tmp_path: Path) -> None:
    path = tmp_path / "vm.pid"
    write_pidfile(str(path))
    assert path.read_text() == f"{os.getpid()}\n"
    assert os.listdir(tmp_path) == ["vm.pid"]  # no temporary file left behind


def test_replaces_the_file_atomically(tmp_path: Path) -> None:
    # A reader never sees a half-written file: the new file is renamed over the old one,
    # so whoever had the old one open still reads the old contents in full.
    path = tmp_path / "vm.pid"
    path.write_text("999999999\n")
    with open(path) as old:
        write_pidfile(str(path))
        assert old.read() == "999999999\n"
    assert path.read_text() == f"{os.getpid()}\n"


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("contents", ["", "\n", "garbage\n", "12abc", "0\n", "-1\n"])
def test_overwrites_a_file_without_a_pid(tmp_path: Path, contents: str) -> None:
    path = tmp_path / "vm.pid"
    path.write_text(contents)
    write_pidfile(str(path))
    assert path.read_text() == f"{os.getpid()}\n"


def test_overwrites_a_stale_pid(tmp_path: Path) -> None:
    path = tmp_path / "vm.pid"
    path.write_text(f"{dead_pid()}\n")
    write_pidfile(str(path))
    assert path.read_text() == f"{os.getpid()}\n"


def test_our_own_pid_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "vm.pid"
    path.write_text(f"{os.getpid()}\n")
    write_pidfile(str(path))
    assert path.read_text() == f"{os.getpid()}\n"


def test_refuses_a_live_pid(tmp_path: Path) -> None:
    path = tmp_path / "vm.pid"
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as other:
        try:
            path.write_text(f"{other.pid}\n")
            with pytest.raises(VmmError) as info:
                write_pidfile(str(path))
            assert str(info.value) == (
                f"cannot create PID file '{path}': process {other.pid} is running"
            )
            assert path.read_text() == f"{other.pid}\n"
            assert os.listdir(tmp_path) == ["vm.pid"]
        finally:
            other.kill()


def test_refuses_a_live_pid_of_another_user() -> None:
    # kill(pid, 0) on someone else's process fails with EPERM: it is alive all the same.
    if os.geteuid() != 0:
        _check_pid1_refused(tempfile.mkdtemp())
        return
    workdir = tempfile.mkdtemp()
    os.chmod(workdir, 0o777)
    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child, as nobody
            os.close(read_end)
            try:
                os.setuid(65534)
                _check_pid1_refused(workdir)
                result = "ok"
            except BaseException as e:
                result = f"{type(e).__name__}: {e}"
            os.write(write_end, result.encode())
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            result = pipe.read().decode()
        os.waitpid(pid, 0)
        assert result == "ok"
    finally:
        shutil.rmtree(workdir)


def _check_pid1_refused(workdir: str) -> None:
    path = os.path.join(workdir, "vm.pid")
    with open(path, "w") as f:
        f.write("1\n")  # init: alive, and not ours to signal
    with pytest.raises(VmmError, match="process 1 is running"):
        write_pidfile(path)


def test_unwritable_location(tmp_path: Path) -> None:
    with pytest.raises(VmmError) as info:
        write_pidfile(str(tmp_path / "missing" / "vm.pid"))
    assert str(info.value) == (
        f"cannot create PID file '{tmp_path}/missing/vm.pid': No such file or directory"
    )


def test_a_directory_in_the_way(tmp_path: Path) -> None:
    path = tmp_path / "vm.pid"
    path.mkdir()
    with pytest.raises(VmmError) as info:
        write_pidfile(str(path))
    assert str(info.value) == f"cannot create PID file '{path}': Is a directory"
