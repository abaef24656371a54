"""O_DIRECT (cache=none, directsync): aligned requests go straight through, others through a
bounce buffer, on the regular disk; a file system without O_DIRECT is refused clearly."""

from __future__ import annotations

import mmap
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.block.driver import BlockError
from pyvirt.block.hostfile import HostFile
from pyvirt.block.open import open_image

from .conftest import qemu_check, qemu_img, qemu_raw


@pytest.fixture(params=[None, 4096])
def direct_file(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HostFile]:
    """A 64 KiB file opened with O_DIRECT; alignment probed, or forced to 4096."""
    path = tmp_path / "disk.raw"
    path.write_bytes(random.Random(1).randbytes(64 << 10))
    file = HostFile(str(path), writable=True, direct=True)
    assert file.align in (512, 1024, 2048, 4096)
    if request.param:
        file.align = request.param
    yield file
    file.close()


def guest_ram(size: int) -> memoryview:
    """Page-aligned and writable, as guest RAM is."""
    return memoryview(mmap.mmap(-1, size))


@pytest.mark.parametrize(
    ("offset", "lengths", "skew"),
    [(0, [4096], 0), (512, [512, 1024], 0), (1, [100], 0), (4000, [300, 9000], 0),
     (8192, [4096], 3), (65536 - 700, [700], 0), (65536 - 700, [1400], 0)],
)  # fmt: skip
def test_reads(direct_file: HostFile, offset: int, lengths: list[int], skew: int) -> None:
    content = Path(direct_file.path).read_bytes()
    ram = guest_ram(1 << 20)
    buffers, at = [], skew
    for n in lengths:
        buffers.append(ram[at : at + n])
        at += n + 4096
    got = direct_file.preadv(buffers, offset)
    want = content[offset : offset + sum(lengths)]
    assert got == len(want)  # short only at the end of the file
    assert b"".join(bytes(b) for b in buffers)[:got] == want


@pytest.mark.parametrize(
    ("offset", "length", "skew"),
    [(0, 4096, 0), (512, 512, 0), (3, 5, 0), (4000, 200, 0), (100, 20000, 7), (8192, 4096, 1),
     (65536 - 10, 10, 0), (65536 - 10, 30, 0), (70000, 123, 0)],
)  # fmt: skip
def test_writes_keep_the_rest(direct_file: HostFile, offset: int, length: int, skew: int) -> None:
    path = Path(direct_file.path)
    expect = bytearray(path.read_bytes())
    data = random.Random(offset).randbytes(length)
    ram = guest_ram(1 << 20)
    ram[skew : skew + length] = data
    direct_file.pwritev([ram[skew : skew + length]], offset)
    if offset > len(expect):
        expect.extend(bytes(offset - len(expect)))
    expect[offset : offset + length] = data
    assert path.read_bytes() == bytes(expect)  # the file ends exactly where the data does


def test_qcow2_with_direct_io(tmp_path: Path) -> None:
    path = tmp_path / "d.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", path, "4M")
    image = open_image(str(path), format="qcow2", direct=True)
    assert image.file.align > 1
    data = random.Random(2).randbytes(70000)
    image.writev(1234, [memoryview(data)])
    image.close()
    qemu_check(path)
    assert qemu_raw(path, tmp_path)[1234 : 1234 + len(data)] == data


@pytest.fixture
def ramfs(tmp_path: Path) -> Iterator[Path]:
    """A ramfs (it has no O_DIRECT; tmpfs has it since Linux 6.6); skips without mount rights."""
    mount = tmp_path / "ramfs"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "ramfs", "ramfs", str(mount)]).returncode != 0:
        pytest.skip("cannot mount a ramfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_file_system_without_o_direct_is_refused_as_qemu_does(ramfs: Path) -> None:
    path = ramfs / "d.raw"
    path.write_bytes(bytes(1 << 20))
    with pytest.raises(BlockError) as caught:
        open_image(str(path), format="raw", direct=True)
    assert caught.value.strerror == f"Could not open '{path}': filesystem does not support O_DIRECT"
    out = subprocess.run(["qemu-io", "-t", "none", "-f", "raw", "-c", "read 0 512", str(path)],
                         capture_output=True, text=True)  # fmt: skip
    assert "filesystem does not support O_DIRECT" in out.stderr + out.stdout
