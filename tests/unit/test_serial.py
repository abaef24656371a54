"""The 16550A UART, against the National Semiconductor PC16550D datasheet.

Register map (offset from the base port): 0 RBR/THR (DLL with DLAB), 1 IER (DLM with
DLAB), 2 IIR/FCR, 3 LCR, 4 MCR, 5 LSR, 6 MSR, 7 SCR. IIR interrupt ids, highest
priority first: 0x06 receiver line status, 0x04 received data, 0x0C character
timeout, 0x02 THR empty, 0x00 modem status; 0x01 means none pending.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyvirt.hw.serial import Serial16550

RBR = THR = DLL = 0
IER = DLM = 1
IIR = FCR = 2
LCR, MCR, LSR, MSR, SCR = 3, 4, 5, 6, 7

IIR_NONE, IIR_MS, IIR_THRE, IIR_RDA, IIR_RLS, IIR_TIMEOUT = 0x01, 0x00, 0x02, 0x04, 0x06, 0x0C
FIFO_BITS = 0xC0


class Uart:
    """A UART with its output and interrupt line recorded."""

    def __init__(self) -> None:
        self.sent = bytearray()
        self.irq: list[bool] = []
        self.dev = Serial16550(self.sent.extend, self.irq.append)

    def rd(self, reg: int) -> int:
        return self.dev.read(reg, 1)

    def wr(self, reg: int, value: int) -> None:
        self.dev.write(reg, 1, value)

    @property
    def line(self) -> bool:
        return self.irq[-1] if self.irq else False

    def drain(self) -> bytes:
        out = bytearray()
        while self.rd(LSR) & 0x01:
            out.append(self.rd(RBR))
        return bytes(out)


@pytest.fixture
def u() -> Uart:
    return Uart()


def test_power_on_state(u: Uart) -> None:
    assert u.rd(IER) == 0
    assert u.rd(IIR) == IIR_NONE
    assert u.rd(LCR) == 0
    assert u.rd(LSR) == 0x60  # THRE and TEMT: the transmitter is idle
    assert u.rd(MSR) & 0xF0 == 0xB0  # DCD, DSR, CTS asserted by the "modem"
    assert u.irq == []


# --- DLAB and the divisor latch ---------------------------------------------------------


def test_divisor_latch_is_behind_dlab(u: Uart) -> None:
    u.wr(LCR, 0x80 | 0x03)  # DLAB, 8N1
    u.wr(DLL, 0x01)
    u.wr(DLM, 0x02)
    assert (u.rd(DLL), u.rd(DLM)) == (0x01, 0x02)
    assert u.sent == b""  # writing DLL is not a transmission
    assert u.rd(LCR) == 0x83
    u.wr(LCR, 0x03)
    assert u.rd(IER) == 0  # DLM and IER are different registers
    u.wr(IER, 0x05)
    u.wr(THR, ord("A"))
    assert u.sent == b"A"
    u.wr(LCR, 0x83)
    assert (u.rd(DLL), u.rd(DLM)) == (0x01, 0x02)
    assert u.dev.divisor == 0x0201
    u.wr(LCR, 0x03)
    assert u.rd(IER) == 0x05


def test_ier_has_four_bits(u: Uart) -> None:
    u.wr(IER, 0xF0 | 0x05)
    assert u.rd(IER) == 0x05


def test_scratch_register(u: Uart) -> None:
    for value in (0x00, 0x5A, 0xA5, 0xFF):
        u.wr(SCR, value)
        assert u.rd(SCR) == value


def test_transmit(u: Uart) -> None:
    for ch in b"hello\n":
        u.wr(THR, ch)
    assert u.sent == b"hello\n"
    assert u.rd(LSR) & 0x60 == 0x60  # transmission is instantaneous


# --- THR empty interrupt ----------------------------------------------------------------


def test_thre_interrupt_raised_when_enabled_with_thr_empty(u: Uart) -> None:
    u.wr(IER, 0x02)
    assert u.irq == [True]
    assert u.rd(IIR) == IIR_THRE


def test_reading_iir_clears_thre(u: Uart) -> None:
    u.wr(IER, 0x02)
    assert u.rd(IIR) == IIR_THRE
    assert u.irq == [True, False]
    assert u.rd(IIR) == IIR_NONE


def test_writing_thr_clears_thre_and_the_empty_transmitter_raises_it_again(u: Uart) -> None:
    u.wr(IER, 0x02)
    assert u.irq == [True]
    u.wr(THR, ord("x"))
    # The write clears the THRE interrupt (the line falls) and, the character being sent
    # at once, THR is empty again: a new THRE interrupt, i.e. a new edge for the PIC.
    assert u.irq == [True, False, True]
    assert u.rd(IIR) == IIR_THRE


def test_thre_after_write_once_acknowledged(u: Uart) -> None:
    u.wr(IER, 0x02)
    u.rd(IIR)
    u.wr(THR, ord("x"))
    assert u.irq == [True, False, True]
    assert u.rd(IIR) == IIR_THRE
    assert u.rd(IIR) == IIR_NONE


def test_disabling_etbei_drops_the_line(u: Uart) -> None:
    u.wr(IER, 0x02)
    u.wr(IER, 0x00)
    assert u.irq == [True, False]
    assert u.rd(IIR) == IIR_NONE


def test_re_enabling_etbei_raises_thre_again(u: Uart) -> None:
    # Windows and Linux's THRE probing toggle IER to get a fresh THRE interrupt.
    u.wr(IER, 0x02)
    u.rd(IIR)
    u.wr(IER, 0x00)
    u.wr(IER, 0x02)
    assert u.irq == [True, False, True]


def test_rewriting_ier_with_etbei_unchanged_does_not_re_raise(u: Uart) -> None:
    u.wr(IER, 0x02)
    u.rd(IIR)
    u.wr(IER, 0x03)
    assert u.irq == [True, False]
    assert u.rd(IIR) == IIR_NONE


# --- receiving ----------------------------------------------------------------------------


def test_receive_without_fifo_holds_one_byte_and_feeds_the_rest(u: Uart) -> None:
    u.dev.receive(b"abc")
    assert u.rd(LSR) & 0x01
    assert u.dev.rx == type(u.dev.rx)([ord("a")])  # the rest waits in the host queue
    assert u.drain() == b"abc"
    assert not u.rd(LSR) & 0x01
    assert u.rd(RBR) == 0  # an empty receiver


def test_received_data_interrupt(u: Uart) -> None:
    u.wr(IER, 0x01)
    assert u.irq == []
    u.dev.receive(b"a")
    assert u.irq == [True]
    assert u.rd(IIR) == IIR_RDA  # FIFO off: the trigger level is one byte
    assert u.rd(RBR) == ord("a")
    assert u.irq == [True, False]
    assert u.rd(IIR) == IIR_NONE


def test_irq_line_only_changes_on_transitions(u: Uart) -> None:
    u.wr(IER, 0x01)
    for _ in range(5):
        u.dev.receive(b"xy")
    u.rd(IIR)
    u.rd(LSR)
    assert u.irq == [True]
    u.drain()
    assert u.irq == [True, False]
    assert all(a != b for a, b in itertools.pairwise(u.irq))


def test_host_input_is_queued_while_the_guest_does_not_read(u: Uart) -> None:
    data = bytes(range(256)) * 40
    u.wr(FCR, 0x01)
    u.dev.receive(data)
    assert len(u.dev.rx) == 16
    assert u.drain() == data


def test_fifo_enable_shows_in_iir(u: Uart) -> None:
    u.wr(FCR, 0x01)
    assert u.rd(IIR) == FIFO_BITS | IIR_NONE
    u.wr(FCR, 0x00)
    assert u.rd(IIR) == IIR_NONE


def test_fifo_holds_sixteen(u: Uart) -> None:
    u.wr(FCR, 0x01)
    u.dev.receive(b"0123456789abcdefXYZ")
    assert len(u.dev.rx) == 16
    assert bytes(u.rd(RBR) for _ in range(16)) == b"0123456789abcdef"
    assert u.drain() == b"XYZ"


def test_fcr_clear_receive_fifo(u: Uart) -> None:
    u.wr(FCR, 0x01)
    u.dev.receive(b"abc")
    u.wr(FCR, 0x01 | 0x02)
    assert not u.rd(LSR) & 0x01
    assert u.rd(RBR) == 0
    u.dev.receive(b"d")
    assert u.drain() == b"d"
    assert u.rd(IIR) & FIFO_BITS == FIFO_BITS  # still enabled


def test_toggling_fifo_enable_clears_the_fifo(u: Uart) -> None:
    u.wr(FCR, 0x01)
    u.dev.receive(b"ab")
    u.wr(FCR, 0x00)
    assert not u.rd(LSR) & 0x01


@pytest.mark.parametrize(("fcr", "level"), [(0x01, 1), (0x41, 4), (0x81, 8), (0xC1, 14)])
def test_trigger_levels_and_character_timeout(u: Uart, fcr: int, level: int) -> None:
    u.wr(FCR, fcr)
    u.wr(IER, 0x01)
    if level > 1:
        u.dev.receive(b"x" * (level - 1))
        # Below the trigger level the data is announced by the character timeout.
        assert u.rd(IIR) == FIFO_BITS | IIR_TIMEOUT
        assert u.line
    u.dev.receive(b"x")
    assert u.rd(IIR) == FIFO_BITS | IIR_RDA
    u.rd(RBR)
    expected = IIR_TIMEOUT if level > 1 else IIR_NONE
    assert u.rd(IIR) == FIFO_BITS | expected


def test_timeout_id_only_with_fifo(u: Uart) -> None:
    u.wr(IER, 0x01)
    u.dev.receive(b"x")
    assert u.rd(IIR) == IIR_RDA  # 16450 mode has no timeout id


# --- line status ------------------------------------------------------------------------


def test_overrun_in_loopback_without_fifo(u: Uart) -> None:
    u.wr(MCR, 0x10)
    u.wr(THR, 1)
    u.wr(THR, 2)  # the receiver holds one byte: overrun
    assert u.sent == b""  # loopback: nothing leaves the chip
    lsr = u.rd(LSR)
    assert lsr & 0x03 == 0x03  # DR and OE
    assert u.rd(LSR) & 0x02 == 0  # OE is cleared by reading LSR
    assert u.rd(RBR) == 1


def test_loopback_with_fifo_overruns_after_sixteen(u: Uart) -> None:
    u.wr(FCR, 0x01)
    u.wr(MCR, 0x10)
    for i in range(17):
        u.wr(THR, i)
    assert u.rd(LSR) & 0x02
    assert u.drain() == bytes(range(16))


def test_receiver_line_status_interrupt_has_top_priority(u: Uart) -> None:
    u.wr(MCR, 0x10)  # loopback, so that we can cause an overrun
    u.wr(IER, 0x0F)  # everything enabled: RLS, RDA, THRE, MSI
    u.wr(THR, 1)
    u.wr(THR, 2)
    assert u.rd(IIR) == IIR_RLS
    u.rd(LSR)  # clears the error
    assert u.rd(IIR) == IIR_RDA
    u.rd(RBR)
    assert u.rd(IIR) == IIR_THRE
    assert u.rd(IIR) == IIR_MS  # entering loopback changed the modem lines
    u.rd(MSR)
    assert u.rd(IIR) == IIR_NONE
    assert not u.line


def test_break(u: Uart) -> None:
    u.wr(IER, 0x04)
    u.dev.send_break()
    assert u.rd(IIR) == IIR_RLS
    lsr = u.rd(LSR)
    assert lsr & 0x11 == 0x11  # BI with DR: a NUL character
    assert u.rd(RBR) == 0
    assert not u.rd(LSR) & 0x11
    assert u.rd(IIR) == IIR_NONE


def test_break_is_reported_once_even_with_data_behind_it(u: Uart) -> None:
    # A break followed at once by more input (C-a b h pasted: sysrq h): BI belongs to
    # the NUL character; reading LSR clears it, so 'h' arrives as a plain character.
    u.wr(FCR, 0x01)
    u.wr(IER, 0x05)
    u.dev.send_break()
    u.dev.receive(b"h")
    assert u.rd(IIR) == FIFO_BITS | IIR_RLS
    assert u.rd(LSR) & 0x10
    assert u.rd(RBR) == 0
    assert u.rd(LSR) & 0x11 == 0x01
    assert u.rd(RBR) == ord("h")
    assert u.rd(IIR) == FIFO_BITS | IIR_NONE


def test_break_into_a_full_receiver_is_an_overrun(u: Uart) -> None:
    u.dev.receive(b"a")  # FIFO off: the holding register is full
    u.dev.send_break()
    assert u.rd(LSR) & 0x12 == 0x02  # OE, no BI
    assert u.drain() == b"a"


def test_lsr_is_read_only(u: Uart) -> None:
    u.wr(LSR, 0x00)
    assert u.rd(LSR) == 0x60


# --- modem control and status -----------------------------------------------------------


def test_mcr_reads_back_five_bits(u: Uart) -> None:
    u.wr(MCR, 0xFF)
    assert u.rd(MCR) == 0x1F


def test_loopback_modem_lines_and_deltas(u: Uart) -> None:
    u.wr(MCR, 0x00)
    u.rd(MSR)
    u.wr(MCR, 0x10)  # loopback, all outputs off: CTS, DSR, DCD drop
    assert u.rd(MSR) == 0x0B  # DCTS, DDSR, DDCD
    assert u.rd(MSR) == 0x00  # deltas clear on read
    u.wr(MCR, 0x10 | 0x02)  # RTS -> CTS
    assert u.rd(MSR) == 0x10 | 0x01
    u.wr(MCR, 0x10 | 0x02 | 0x01)  # DTR -> DSR
    assert u.rd(MSR) == 0x30 | 0x02
    u.wr(MCR, 0x10 | 0x03 | 0x08)  # OUT2 -> DCD
    assert u.rd(MSR) == 0xB0 | 0x08
    u.wr(MCR, 0x10 | 0x0B | 0x04)  # OUT1 -> RI: the leading edge sets no delta
    assert u.rd(MSR) == 0xF0
    u.wr(MCR, 0x10 | 0x0B)  # RI trailing edge: TERI
    assert u.rd(MSR) == 0xB0 | 0x04


def test_modem_status_interrupt(u: Uart) -> None:
    u.wr(IER, 0x08)
    assert u.irq == []
    u.wr(MCR, 0x10)
    assert u.irq == [True]
    assert u.rd(IIR) == IIR_MS
    u.rd(MSR)
    assert u.irq == [True, False]


def test_leaving_loopback_restores_the_modem_lines(u: Uart) -> None:
    u.wr(MCR, 0x10)
    u.rd(MSR)
    u.wr(MCR, 0x08)
    assert u.rd(MSR) == 0xB0 | 0x0B
    u.wr(THR, ord("z"))
    assert u.sent == b"z"


# --- properties -------------------------------------------------------------------------

_ops = st.lists(
    st.one_of(
        st.tuples(st.just("r"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("w"), st.integers(0, 7), st.integers(0, 0xFF)),
        st.tuples(st.just("rx"), st.just(0), st.integers(0, 40)),
        st.tuples(st.just("brk"), st.just(0), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_ops)
def test_any_register_sequence_keeps_the_invariants(ops: list[tuple[str, int, int]]) -> None:
    u = Uart()
    for op, reg, value in ops:
        if op == "r":
            assert 0 <= u.dev.read(reg, 1) <= 0xFF
        elif op == "w":
            u.dev.write(reg, 1, value)
        elif op == "rx":
            u.dev.receive(bytes(range(value)))
        else:
            u.dev.send_break()
        # the line follows IIR, and only its transitions are signalled
        assert u.line == (not u.dev._iir() & 0x01)
        assert all(a != b for a, b in itertools.pairwise(u.irq))
        assert u.dev.lsr & 0x60 == 0x60
        assert len(u.dev.rx) <= 16
        assert bool(u.dev.lsr & 0x01) == bool(u.dev.rx)
