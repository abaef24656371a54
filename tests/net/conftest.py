"""Backends driven by a real asyncio loop, with a peer that records what reaches the guest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest

from pyvirt.net.backend import NetBackend


class Peer:
    """Stands in for the NIC: records frames, or refuses them while `full`."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.full = False
        self.tx_ready_calls = 0

    def receive(self, frame: bytes) -> bool:
        if self.full:
            return False
        self.frames.append(frame)
        return True

    def tx_ready(self) -> None:
        self.tx_ready_calls += 1


class Loop:
    """A private event loop the test steps until a condition holds."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.backends: list[NetBackend] = []

    def start(self, backend: NetBackend) -> Peer:
        peer = Peer()
        backend.attach(peer)
        backend.start(self.loop)
        self.backends.append(backend)
        return peer

    def run_until(self, done: Callable[[], object], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not reached in {timeout} s")
            self.loop.run_until_complete(asyncio.sleep(0.005))

    def close(self) -> None:
        for backend in self.backends:
            backend.close()
        self.loop.close()


@pytest.fixture
def loop() -> Iterator[Loop]:
    runner = Loop()
    yield runner
    runner.close()
