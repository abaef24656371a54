"""The i8042 keyboard controller, as much as guests use it: probing and the reset line.

No keyboard or mouse is attached. Command 0xFE (pulse the reset line) and an
output-port write that clears bit 0 reset the machine, which is how Linux and
many boot loaders reboot a PC.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from .state import State, StateError, get, get_uint

DATA_PORT_OFFSET = 0  # port 0x60
STATUS_PORT_OFFSET = 4  # port 0x64

STATUS_OBF = 0x01
STATUS_SYS = 0x04
STATUS_CMD = 0x08

CTR_DEFAULT = 0x61  # keyboard interrupt on, aux port disabled, scancode translation


class I8042:
    """Registered at 0x60 with length 5, so offset 4 is the status/command port 0x64."""

    def __init__(self, on_reset: Callable[[], None]) -> None:
        self.on_reset = on_reset
        self._lock = threading.Lock()
        self.ctr = CTR_DEFAULT
        self.output_port = 0x03  # A20 on, not in reset
        self.out: deque[int] = deque()
        self.pending_cmd: int | None = None
        self.last_was_cmd = False

    def save_state(self) -> State:
        with self._lock:
            return {"ctr": self.ctr, "output_port": self.output_port, "out": list(self.out),
                    "pending_cmd": self.pending_cmd, "last_was_cmd": self.last_was_cmd}  # fmt: skip

    def load_state(self, state: Mapping[str, Any]) -> None:
        out = get(state, "out", list)
        if len(out) > 16 or not all(isinstance(b, int) and 0 <= b < 256 for b in out):
            raise StateError("'out' is not a short queue of bytes")
        pending = state.get("pending_cmd")
        if pending is not None and not (isinstance(pending, int) and 0 <= pending < 256):
            raise StateError("'pending_cmd' is not a command byte")
        with self._lock:
            self.ctr = get_uint(state, "ctr", 8)
            self.output_port = get_uint(state, "output_port", 8)
            self.out = deque(out)
            self.pending_cmd = pending
            self.last_was_cmd = get(state, "last_was_cmd", bool)

    def read(self, offset: int, size: int) -> int:
        with self._lock:
            if offset == DATA_PORT_OFFSET:
                return self.out.popleft() if self.out else 0
            if offset == STATUS_PORT_OFFSET:
                status = STATUS_SYS | (STATUS_CMD if self.last_was_cmd else 0)
                return status | (STATUS_OBF if self.out else 0)
            return 0xFF

    def write(self, offset: int, size: int, value: int) -> None:
        reset = False
        with self._lock:
            if offset == STATUS_PORT_OFFSET:
                self.last_was_cmd = True
                reset = self._command(value & 0xFF)
            elif offset == DATA_PORT_OFFSET:
                self.last_was_cmd = False
                reset = self._data(value & 0xFF)
        if reset:
            self.on_reset()

    def _command(self, cmd: int) -> bool:
        self.pending_cmd = None
        if cmd == 0x20:  # read controller configuration byte
            self.out.append(self.ctr)
        elif cmd in (0x60, 0xD1, 0xD2, 0xD3, 0xD4):  # commands followed by a data byte
            self.pending_cmd = cmd
        elif cmd == 0xAA:  # controller self test
            self.out.append(0x55)
        elif cmd in (0xA9, 0xAB):  # port tests: pass
            self.out.append(0x00)
        elif cmd == 0xD0:  # read output port
            self.out.append(self.output_port)
        elif cmd == 0xFE or (0xF0 <= cmd <= 0xFF and not cmd & 0x01):
            return True  # pulse output line 0: CPU reset
        return False

    def _data(self, value: int) -> bool:
        cmd, self.pending_cmd = self.pending_cmd, None
        if cmd == 0x60:
            self.ctr = value
        elif cmd == 0xD1:
            self.output_port = value
            return not value & 0x01
        elif cmd in (0xD2, 0xD3):  # echo as if from the keyboard / aux device
            self.out.append(value)
        elif cmd is None:
            self.out.append(0xFE)  # no keyboard: resend
        return False
