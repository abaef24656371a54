"""Device states for snapshots: each device's save_state/load_state round trip, and a
hostile state refused with a message naming the field."""

from __future__ import annotations

import json

import pytest

from pyvirt.hw.acpi_pm import PWRBTN_EN, AcpiPm
from pyvirt.hw.fw_cfg import FwCfg
from pyvirt.hw.i8042 import I8042
from pyvirt.hw.rtc import CmosRtc
from pyvirt.hw.serial import Serial16550
from pyvirt.hw.state import StateError
from pyvirt.hw.virtio.queue import VirtQueue
from tests.unit.virtio_driver import Buf, Driver, new_memory


def through_json(state: dict) -> dict:
    return json.loads(json.dumps(state))


def test_serial_round_trip_keeps_registers_fifo_and_interrupt() -> None:
    levels: list[bool] = []
    uart = Serial16550(lambda data: None, levels.append)
    uart.write(3, 1, 0x83)  # DLAB
    uart.write(0, 1, 1)  # 115200 baud
    uart.write(3, 1, 0x03)
    uart.write(2, 1, 0x01)  # FIFO on
    uart.write(1, 1, 0x01)  # receive interrupt
    uart.receive(b"hi")
    restored_levels: list[bool] = []
    copy = Serial16550(lambda data: None, restored_levels.append)
    copy.load_state(through_json(uart.save_state()))
    assert restored_levels == [True]  # the line is driven as the registers say
    assert [copy.read(0, 1), copy.read(0, 1)] == [ord("h"), ord("i")]
    assert copy.divisor == 1 and copy.lcr == 0x03


def test_serial_input_that_came_before_the_restore_is_kept() -> None:
    uart = Serial16550(lambda data: None, lambda level: None)
    state = through_json(uart.save_state())
    fresh = Serial16550(lambda data: None, lambda level: None)
    fresh.receive(b"typed early")
    fresh.load_state(state)
    fresh.take_host_input()
    assert bytes(fresh.read(0, 1) for _ in range(11)) == b"typed early"


def test_simple_devices_round_trip() -> None:
    rtc = CmosRtc(clock=lambda: 1_000_000.0)
    rtc.write(0, 1, 0x0E)
    rtc.write(1, 1, 0x5A)
    rtc.offset = 42.5
    rtc_copy = CmosRtc(clock=lambda: 1_000_000.0)
    rtc_copy.load_state(through_json(rtc.save_state()))
    assert rtc_copy.cmos == rtc.cmos and rtc_copy.offset == 42.5 and rtc_copy.index == 0x0E

    kbd = I8042(lambda: None)
    kbd.write(4, 1, 0x20)  # read the configuration byte: one byte queued
    kbd_copy = I8042(lambda: None)
    kbd_copy.load_state(through_json(kbd.save_state()))
    assert kbd_copy.read(0, 1) == kbd.ctr

    cfg = FwCfg(cpus=1, max_cpus=1, ram_size=1 << 20, nographic=False)
    cfg.write(0, 2, 0x00)
    cfg.read(1, 1)
    cfg_copy = FwCfg(cpus=1, max_cpus=1, ram_size=1 << 20, nographic=False)
    cfg_copy.load_state(through_json(cfg.save_state()))
    assert [cfg_copy.read(1, 1) for _ in range(3)] == [ord(c) for c in "EMU"]


def test_acpi_pm_keeps_events_and_the_timer_count() -> None:
    now = [0]
    pm = AcpiPm(clock_ns=lambda: now[0])
    pm.io_write(0x602, 2, PWRBTN_EN)
    pm.press_power_button()
    now[0] = 10**9
    state = through_json(pm.save_state())
    levels: list[bool] = []
    later = [5 * 10**9]
    copy = AcpiPm(clock_ns=lambda: later[0], set_irq=levels.append)
    copy.load_state(state)
    assert levels == [True]  # the SCI the pending power button raises
    assert abs(copy.io_read(0x608, 4) - pm.io_read(0x608, 4)) < 10  # no time passed


def test_virtqueue_round_trip_and_hostile_states() -> None:
    mem = new_memory()
    queue = VirtQueue(mem, 16)
    driver = Driver(mem, queue)
    queue.activate()
    driver.add([Buf(size=64)])
    assert queue.pop() is not None
    copy = VirtQueue(mem, 16)
    copy.load_state(through_json(queue.save_state()))
    assert copy.ready and copy.last_avail_idx == 1 and copy.desc_addr == queue.desc_addr
    bad = queue.save_state() | {"desc": 1 << 40}
    with pytest.raises(StateError, match=r"descriptor table .* is not in RAM"):
        VirtQueue(mem, 16).load_state(bad)
    with pytest.raises(StateError, match="'used_idx' = 70000 does not fit in 16 bits"):
        VirtQueue(mem, 16).load_state(queue.save_state() | {"used_idx": 70000})
    with pytest.raises(StateError, match="'size' is missing"):
        VirtQueue(mem, 16).load_state({})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rx": [1] * 17}, "'rx' is not a FIFO of bytes"),
        ({"ier": "x"}, "'ier' is not int"),
        ({"lcr": 256}, "'lcr' = 256 does not fit in 8 bits"),
        ({"thr_pending": 1}, "'thr_pending' is not bool"),
    ],
)
def test_hostile_serial_states_are_refused(change: dict, message: str) -> None:
    uart = Serial16550(lambda data: None, lambda level: None)
    with pytest.raises(StateError, match=message):
        uart.load_state(uart.save_state() | change)
