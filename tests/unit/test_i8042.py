"""The i8042 keyboard controller without a keyboard: probing, the command byte, reset."""

from __future__ import annotations

import pytest

from pyvirt.hw.i8042 import I8042

DATA, STATUS = 0, 4  # ports 0x60 and 0x64
OBF, IBF, SYS, CMD = 0x01, 0x02, 0x04, 0x08


class Kbc:
    def __init__(self) -> None:
        self.resets = 0
        self.dev = I8042(self._reset)

    def _reset(self) -> None:
        self.resets += 1
        self.dev.read(STATUS, 1)  # the callback may touch the device: no deadlock

    def cmd(self, value: int) -> None:
        self.dev.write(STATUS, 1, value)

    def data(self, value: int) -> None:
        self.dev.write(DATA, 1, value)

    def status(self) -> int:
        return self.dev.read(STATUS, 1)

    def read(self) -> int:
        assert self.status() & OBF
        return self.dev.read(DATA, 1)


@pytest.fixture
def k() -> Kbc:
    return Kbc()


def test_self_test(k: Kbc) -> None:
    assert not k.status() & OBF
    k.cmd(0xAA)
    assert k.read() == 0x55
    assert not k.status() & OBF


def test_interface_tests_pass(k: Kbc) -> None:
    k.cmd(0xAB)
    assert k.read() == 0x00
    k.cmd(0xA9)
    assert k.read() == 0x00


def test_command_byte_read_write(k: Kbc) -> None:
    k.cmd(0x20)
    assert k.read() & 0x41 == 0x41  # keyboard interrupt, scancode translation
    k.cmd(0x60)
    k.data(0x47)
    k.cmd(0x20)
    assert k.read() == 0x47
    assert k.resets == 0


def test_status_never_shows_input_buffer_full(k: Kbc) -> None:
    # Guests spin on IBF before every write; we consume writes at once.
    for write in (lambda: k.cmd(0x60), lambda: k.data(0x45), lambda: k.cmd(0xAA)):
        write()
        assert not k.status() & IBF
    assert k.status() & SYS


def test_command_flag_tracks_the_last_port_written(k: Kbc) -> None:
    k.cmd(0x60)
    assert k.status() & CMD
    k.data(0x45)
    assert not k.status() & CMD


def test_pulse_reset_line(k: Kbc) -> None:
    k.cmd(0xFE)
    assert k.resets == 1


@pytest.mark.parametrize("cmd", [0xF0, 0xF2, 0xFA, 0xFC, 0xFE])
def test_pulse_commands_with_bit0_clear_reset(k: Kbc, cmd: int) -> None:
    k.cmd(cmd)
    assert k.resets == 1


@pytest.mark.parametrize("cmd", [0xF1, 0xFB, 0xFF])
def test_pulse_commands_with_bit0_set_do_not_reset(k: Kbc, cmd: int) -> None:
    k.cmd(cmd)
    assert k.resets == 0


def test_output_port_write_with_bit0_clear_resets(k: Kbc) -> None:
    k.cmd(0xD1)
    k.data(0x03)  # A20 on, reset line high: nothing happens
    assert k.resets == 0
    k.cmd(0xD0)
    assert k.read() == 0x03
    k.cmd(0xD1)
    k.data(0x02)
    assert k.resets == 1


def test_echo_commands(k: Kbc) -> None:
    k.cmd(0xD2)
    k.data(0x5A)
    assert k.read() == 0x5A
    k.cmd(0xD3)
    k.data(0xA5)
    assert k.read() == 0xA5


def test_keyboard_bytes_without_a_keyboard(k: Kbc) -> None:
    k.data(0xFF)  # keyboard reset: there is no keyboard to answer
    assert k.read() == 0xFE
    assert k.resets == 0


def test_a_command_cancels_a_pending_data_byte(k: Kbc) -> None:
    k.cmd(0xD1)
    k.cmd(0x20)
    k.read()
    k.data(0x00)  # no longer the output port: no reset
    assert k.resets == 0
