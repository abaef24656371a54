"""Fixtures the unit tests share: /dev/kvm and a private asyncio loop."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from pyvirt.kvm.system import Kvm


@pytest.fixture(scope="module")
def kvm() -> Iterator[Kvm]:
    """/dev/kvm opened once per module; skips when it is not usable."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("/dev/kvm is not usable")
    k = Kvm()
    yield k
    k.close()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
