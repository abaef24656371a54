"""info, check, map, compare and snapshot -l on images qemu-img made: same output as qemu-img."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import same

RAW = ["empty.raw", "data.raw"]
QCOW2 = ["v3.qcow2", "v2.qcow2", "overlay.qcow2", "on-raw.qcow2", "snap.qcow2"]
ALL = RAW + QCOW2


@pytest.mark.parametrize("image", ALL)
@pytest.mark.parametrize("output", ["human", "json"])
def test_info(samples: Path, image: str, output: str) -> None:
    same("info", f"--output={output}", image, cwd=samples)


@pytest.mark.parametrize("image", ["data.raw", *QCOW2])
@pytest.mark.parametrize("output", ["human", "json"])
def test_info_backing_chain(samples: Path, image: str, output: str) -> None:
    same("info", "--backing-chain", "--output", output, image, cwd=samples)


def test_info_explicit_format_and_absolute_path(samples: Path) -> None:
    same("info", "-f", "raw", str(samples / "data.raw"), cwd=samples)


def test_info_backing_actual_path(samples: Path) -> None:
    same("info", str(samples / "overlay.qcow2"), cwd=samples)


@pytest.mark.parametrize("image", ALL)
@pytest.mark.parametrize("output", ["human", "json"])
def test_check(samples: Path, image: str, output: str) -> None:
    same("check", "--output", output, image, cwd=samples)


@pytest.mark.parametrize("image", ALL)
@pytest.mark.parametrize("output", ["human", "json"])
def test_map(samples: Path, image: str, output: str) -> None:
    same("map", f"--output={output}", image, cwd=samples)


@pytest.mark.parametrize(
    "args",
    [
        ["empty.raw", "empty.raw"],
        ["empty.raw", "data.raw"],
        ["-s", "data.raw", "data.raw"],
        ["-f", "raw", "-F", "raw", "data.raw", "empty.raw"],
        ["v3.qcow2", "overlay.qcow2"],
        ["data.raw", "on-raw.qcow2"],
        ["-s", "data.raw", "on-raw.qcow2"],
        ["v2.qcow2", "empty.raw"],
        ["-q", "v3.qcow2", "snap.qcow2"],
    ],
)
def test_compare(samples: Path, args: list[str]) -> None:
    same("compare", *args, cwd=samples)


@pytest.mark.parametrize("image", ["data.raw", *QCOW2])
def test_snapshot_list(samples: Path, image: str) -> None:
    same("snapshot", "-l", image, cwd=samples)
