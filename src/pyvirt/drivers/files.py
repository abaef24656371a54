"""Files in a driver's state directory, written so that a crash never leaves half a file."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text`: a temporary file, fsync, rename, fsync of the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_json(path: Path, data: object) -> None:
    write_atomically(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def set_flag(path: Path, on: bool) -> None:
    """A flag file, like libvirt's autostart symlinks: present means on."""
    if on:
        write_atomically(path, "")
    else:
        remove(path)
