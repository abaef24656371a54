"""Sizes on the command line and in output: QEMU's parser and printer."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyvirt.img.qjson import qdict_items
from pyvirt.img.sizes import size_to_str

from .conftest import same

SIZES = [
    "0",
    "512",
    "1.5k",
    "1K",
    "1m",
    "1g",
    "1t",
    "1.k",
    "0.5k",
    " 5",
    "+5",
    "010",
    "0x10",
    "1.0",
    "1.b",
    "1.5",
    "1.5b",
    "1e3",
    ".5k",
    "5 ",
    "",
    "1KB",
    "1KiB",
    "12Q",
    "8E",
    "-0",
]


@pytest.mark.parametrize("size", SIZES)
def test_size_argument(tmp_path: Path, size: str) -> None:
    same("create", "-f", "raw", "s.img", size, cwd=tmp_path)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "0.977 KiB"),
        (1023, "0.999 KiB"),
        (1024, "1 KiB"),
        (1327104, "1.27 MiB"),
        (1610612736, "1.5 GiB"),
        (1 << 62, "4 EiB"),
    ],
)
def test_size_to_str(value: int, text: str) -> None:
    assert size_to_str(value) == text


def test_json_keys_in_qemu_hash_order() -> None:
    keys = ["filename", "format", "dirty-flag", "actual-size", "virtual-size", "snapshots"]
    assert [k for k, _ in qdict_items(dict.fromkeys(keys))] == [
        "snapshots",
        "virtual-size",
        "filename",
        "format",
        "actual-size",
        "dirty-flag",
    ]
