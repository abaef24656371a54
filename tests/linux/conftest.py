"""The minimal Linux test guest (guests/linux), built once per session."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .guest import LinuxGuest

__all__ = ["LinuxGuest", "linux_guest"]

BUILD_SH = Path(__file__).resolve().parents[2] / "guests" / "linux" / "build.sh"
BUILD_TIMEOUT = 3600.0  # a cold kernel build takes ~4 min on 2 cores


@pytest.fixture(scope="session")
def linux_guest() -> LinuxGuest:
    """Builds the guest (or finds it in the cache); a failed build fails the test."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("/dev/kvm is not usable: no point building the Linux guest")
    try:
        proc = subprocess.run(
            [str(BUILD_SH)], capture_output=True, text=True, timeout=BUILD_TIMEOUT
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"{BUILD_SH} did not finish in {err.timeout:.0f} s", pytrace=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-40:])
        pytest.fail(f"{BUILD_SH} failed (exit code {proc.returncode}):\n{tail}", pytrace=False)
    return LinuxGuest.from_dir(Path(proc.stdout.splitlines()[-1]))
