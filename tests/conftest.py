"""Shared fixtures: how to start a VMM, and skips for missing host features."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from guests.tiny import build as tiny_build
from tests.support import TinyGuests

PYVIRT_QEMU = [sys.executable, "-m", "pyvirt.vmm"]
QEMU = shutil.which("qemu-system-x86_64")


def kvm_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def vmm_argv(kind: str, *options: str) -> list[str]:
    """argv prefix of "pyvirt" or "qemu" (the reference) with `options`; skips if it can't run."""
    if not kvm_usable():
        pytest.skip("/dev/kvm is not usable")
    if kind == "qemu":
        if QEMU is None:
            pytest.skip("qemu-system-x86_64 is not installed")
        return [QEMU, "-accel", "kvm", "-cpu", "host", *options]
    return [*PYVIRT_QEMU, "-accel", "kvm", *options]


@pytest.fixture(params=["pyvirt", "qemu"])
def vmm(request: pytest.FixtureRequest) -> list[str]:
    """An x86-64 VMM with QEMU's command line: ours, and QEMU as reference."""
    return vmm_argv(request.param, "-display", "none", "-nodefaults")


@pytest.fixture(scope="session")
def tiny_guests() -> TinyGuests:
    """The tiny guests; skips when gcc or binutils are missing."""
    missing = tiny_build.missing_tools()
    if missing:
        pytest.skip(
            f"cannot build the tiny guests: {', '.join(missing)} not found "
            "(apt-get install gcc binutils)"
        )
    return TinyGuests()
