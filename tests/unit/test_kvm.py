"""KVM exits described for humans, and opening the KVM device without a KVM."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pyvirt.kvm import Kvm, KvmUnavailable, describe
from pyvirt.kvm.exits import ExitReason, InternalError, SystemEvent
from pyvirt.kvm.structs import Run


def _run(reason: int) -> Run:
    run = Run()
    run.exit_reason = reason
    return run


def test_describe_io_out() -> None:
    run = _run(ExitReason.IO)
    run.exit.io.direction, run.exit.io.size, run.exit.io.port, run.exit.io.count = 1, 1, 0x3F8, 1
    assert describe(run) == "KVM_EXIT_IO out port=0x3f8 size=1 count=1"


def test_describe_io_in() -> None:
    run = _run(ExitReason.IO)
    run.exit.io.direction, run.exit.io.size, run.exit.io.port, run.exit.io.count = 0, 2, 0x510, 3
    assert describe(run) == "KVM_EXIT_IO in port=0x510 size=2 count=3"


def test_describe_mmio_write_shows_the_data() -> None:
    run = _run(ExitReason.MMIO)
    m = run.exit.mmio
    m.phys_addr, m.len, m.is_write = 0xFEE000B0, 4, 1
    m.data[:4] = [0x78, 0x56, 0x34, 0x12]
    assert describe(run) == "KVM_EXIT_MMIO write addr=0xfee000b0 len=4 78563412"


def test_describe_mmio_read_has_no_data() -> None:
    run = _run(ExitReason.MMIO)
    m = run.exit.mmio
    m.phys_addr, m.len, m.is_write = 0xD0000000, 8, 0
    m.data[:8] = [0xAA] * 8  # stale bytes from an earlier exit
    assert describe(run) == "KVM_EXIT_MMIO read addr=0xd0000000 len=8"


def test_describe_emulation_failure_with_instruction_bytes() -> None:
    run = _run(ExitReason.INTERNAL_ERROR)
    ef = run.exit.emulation_failure
    ef.suberror, ef.ndata, ef.flags = InternalError.EMULATION, 4, 1
    insn = bytes.fromhex("0fc70e")  # cmpxchg16b (%rsi)
    ef.insn_size = len(insn)
    ef.insn_bytes[: len(insn)] = list(insn)
    ef.insn_bytes[3] = 0x90  # beyond insn_size: must not be shown
    assert describe(run) == (
        "KVM_EXIT_INTERNAL_ERROR suberror=EMULATION instruction bytes=0f c7 0e"
    )


def test_describe_emulation_failure_clamps_a_bogus_instruction_size() -> None:
    run = _run(ExitReason.INTERNAL_ERROR)
    ef = run.exit.emulation_failure
    ef.suberror, ef.flags, ef.insn_size = InternalError.EMULATION, 1, 200
    ef.insn_bytes[:15] = list(range(1, 16))
    assert describe(run).endswith("instruction bytes=" + bytes(range(1, 16)).hex(" "))


def test_describe_internal_error_data() -> None:
    run = _run(ExitReason.INTERNAL_ERROR)
    internal = run.exit.internal
    internal.suberror, internal.ndata = InternalError.DELIVERY_EV, 2
    internal.data[0], internal.data[1] = 0x80000B0E, 0x31
    assert describe(run) == ("KVM_EXIT_INTERNAL_ERROR suberror=DELIVERY_EV data=0x80000b0e,0x31")


def test_describe_internal_error_unknown_suberror_and_huge_ndata() -> None:
    run = _run(ExitReason.INTERNAL_ERROR)
    internal = run.exit.internal
    internal.suberror, internal.ndata = 77, 1000  # ndata beyond the 16 slots
    text = describe(run)
    assert text.startswith("KVM_EXIT_INTERNAL_ERROR suberror=77 data=")
    assert text.count(",") == 15


@pytest.mark.parametrize(
    ("event", "name"),
    [(SystemEvent.SHUTDOWN, "SHUTDOWN"), (SystemEvent.RESET, "RESET"), (99, "99")],
)
def test_describe_system_event(event: int, name: str) -> None:
    run = _run(ExitReason.SYSTEM_EVENT)
    run.exit.system_event.type = event
    assert describe(run) == f"KVM_EXIT_SYSTEM_EVENT type={name} ndata=0"


def test_describe_unknown_reason_number() -> None:
    assert describe(_run(1234)) == "unknown exit reason 1234"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (ExitReason.HLT, "KVM_EXIT_HLT"),
        (ExitReason.SHUTDOWN, "KVM_EXIT_SHUTDOWN"),
        (ExitReason.UNKNOWN, "KVM_EXIT_UNKNOWN hardware_exit_reason=0x0"),
        (ExitReason.FAIL_ENTRY, "KVM_EXIT_FAIL_ENTRY hardware_entry_failure_reason=0x0 cpu=0"),
    ],
)
def test_describe_payloadless_and_hardware_exits(reason: int, expected: str) -> None:
    assert describe(_run(reason)) == expected


def test_describe_is_one_line_for_every_reason() -> None:
    for code in [*ExitReason, 255]:
        text = describe(_run(code))
        assert "\n" not in text and text == text.strip()


# --- the device -----------------------------------------------------------------------


def test_missing_device_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "kvm"
    with pytest.raises(KvmUnavailable) as info:
        Kvm(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path} does not exist")
    assert "modprobe kvm_intel" in message and "VT-x/AMD-V" in message


def test_a_device_that_is_not_kvm() -> None:
    with pytest.raises(KvmUnavailable) as info:
        Kvm("/dev/null")
    assert str(info.value) == (
        "/dev/null is not a KVM device: KVM_GET_API_VERSION: Inappropriate ioctl for device"
    )


def test_a_directory_is_not_a_device(tmp_path: Path) -> None:
    with pytest.raises(KvmUnavailable, match=r"^cannot open .*: Is a directory$"):
        Kvm(str(tmp_path))


def _in_child_as_nobody(action: Callable[[], object]) -> str:
    """The message of the exception `action` raises, run with uid nobody."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        message = "no exception"
        try:
            os.setuid(65534)
            action()
        except BaseException as e:
            message = str(e)
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    return message


def test_permission_denied_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "kvm"
    path.write_bytes(b"")
    path.chmod(0)
    if os.geteuid() != 0:
        with pytest.raises(KvmUnavailable) as info:
            Kvm(str(path))
        message = str(info.value)
    else:  # root opens anything: try as nobody in a forked child
        tmp_path.chmod(0o711)
        message = _in_child_as_nobody(lambda: Kvm(str(path)))
    assert "\n" not in message
    assert message.startswith(f"permission denied opening {path}")
    assert "add your user to the 'kvm' group" in message


def test_failed_open_leaks_no_descriptor() -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with pytest.raises(KvmUnavailable):
            Kvm("/dev/null")
    assert len(os.listdir("/proc/self/fd")) == before
