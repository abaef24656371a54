"""16550A UART: the full register set, 16-byte FIFOs and interrupts.

Transmission is instantaneous (THR is always empty again at once), so the guest
never waits on the line; received bytes from the host are queued and fed into
the receive FIFO as the guest drains it, which is QEMU's flow control.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from .state import State, StateError, get, get_uint

# Register offsets
RBR_THR_DLL = 0
IER_DLM = 1
IIR_FCR = 2
LCR = 3
MCR = 4
LSR = 5
MSR = 6
SCR = 7

IER_RDI = 0x01  # received data available
IER_THRI = 0x02  # transmitter holding register empty
IER_RLSI = 0x04  # receiver line status
IER_MSI = 0x08  # modem status

IIR_NO_INT = 0x01
IIR_MSI = 0x00
IIR_THRI = 0x02
IIR_RDI = 0x04
IIR_RLSI = 0x06
IIR_CTI = 0x0C
IIR_FIFO_ENABLED = 0xC0

FCR_ENABLE = 0x01
FCR_CLEAR_RX = 0x02
FCR_CLEAR_TX = 0x04

LCR_DLAB = 0x80

MCR_DTR, MCR_RTS, MCR_OUT1, MCR_OUT2, MCR_LOOP = 0x01, 0x02, 0x04, 0x08, 0x10

LSR_DR, LSR_OE, LSR_BI, LSR_THRE, LSR_TEMT = 0x01, 0x02, 0x10, 0x20, 0x40
LSR_ERRORS = 0x1E

MSR_DCTS, MSR_DDSR, MSR_TERI, MSR_DDCD = 0x01, 0x02, 0x04, 0x08
MSR_CTS, MSR_DSR, MSR_RI, MSR_DCD = 0x10, 0x20, 0x40, 0x80
MSR_DELTAS = 0x0F

FIFO_SIZE = 16
TRIGGER_LEVELS = (1, 4, 8, 14)
HOST_QUEUE_LIMIT = 1 << 20


class Serial16550:
    """One UART. `output` receives transmitted bytes; `set_irq` drives its interrupt line."""

    def __init__(
        self,
        output: Callable[[bytes], None],
        set_irq: Callable[[bool], None],
    ) -> None:
        self.output = output
        self.set_irq = set_irq
        self._lock = threading.Lock()
        self._host_queue: deque[int] = deque()
        self.reset()

    def reset(self) -> None:
        self.divisor = 12  # 9600 baud
        self.ier = 0
        self.lcr = 0
        self.mcr = MCR_OUT2
        self.lsr = LSR_THRE | LSR_TEMT
        self.msr = MSR_DCD | MSR_DSR | MSR_CTS
        self.scr = 0
        self.fcr = 0
        self.rx: deque[int] = deque()
        self.thr_pending = False  # THR-empty interrupt condition
        self._irq_level = False

    # --- snapshots ---------------------------------------------------------

    _REGISTERS = ("ier", "lcr", "mcr", "lsr", "msr", "scr", "fcr")

    def save_state(self) -> State:
        with self._lock:
            state: State = {name: getattr(self, name) for name in self._REGISTERS}
            state.update(divisor=self.divisor, rx=list(self.rx), thr_pending=self.thr_pending)
            return state

    def load_state(self, state: Mapping[str, Any]) -> None:
        with self._lock:
            for name in self._REGISTERS:
                setattr(self, name, get_uint(state, name, 8))
            self.divisor = get_uint(state, "divisor", 16)
            rx = get(state, "rx", list)
            if len(rx) > FIFO_SIZE or not all(isinstance(b, int) and 0 <= b < 256 for b in rx):
                raise StateError("'rx' is not a FIFO of bytes")
            # Host input that reached this fresh UART before the restore waits in line,
            # behind what the saved FIFO holds, for take_host_input().
            self._host_queue.extendleft(reversed(self.rx))
            self.rx = deque(rx)
            self.thr_pending = get(state, "thr_pending", bool)
            self._irq_level = False
            self._update_irq()  # the line as the saved registers drove it

    def take_host_input(self) -> None:
        """Feed input queued during a restore into the FIFO, once the interrupt controllers
        are restored too: the interrupt it raises must reach the restored guest."""
        with self._lock:
            self._fill_rx()
            self._update_irq()

    # --- host side ---------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Bytes typed by the host user (or sent by a socket client) for the guest."""
        with self._lock:
            room = HOST_QUEUE_LIMIT - len(self._host_queue)
            self._host_queue.extend(data[: max(room, 0)])
            self._fill_rx()
            self._update_irq()

    def send_break(self) -> None:
        with self._lock:
            if len(self.rx) < self._fifo_capacity():
                self.rx.append(0)  # a break reads as a NUL character with BI set
                self.lsr |= LSR_BI | LSR_DR
            else:
                self.lsr |= LSR_OE
            self._update_irq()

    def _fifo_capacity(self) -> int:
        return FIFO_SIZE if self.fcr & FCR_ENABLE else 1

    def _fill_rx(self) -> None:
        capacity = self._fifo_capacity()
        while self._host_queue and len(self.rx) < capacity:
            self.rx.append(self._host_queue.popleft())
        if self.rx:
            self.lsr |= LSR_DR

    # --- guest side --------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        with self._lock:
            value = self._read(offset & 7)
            self._update_irq()
            return value

    def write(self, offset: int, size: int, value: int) -> None:
        with self._lock:
            out = self._write(offset & 7, value & 0xFF)
            self._update_irq()
        if out is not None:
            self.output(out)

    def _read(self, reg: int) -> int:
        dlab = self.lcr & LCR_DLAB
        if reg == RBR_THR_DLL:
            if dlab:
                return self.divisor & 0xFF
            value = self.rx.popleft() if self.rx else 0
            self._fill_rx()
            if not self.rx:
                self.lsr &= ~(LSR_DR | LSR_BI)
            return value
        if reg == IER_DLM:
            return (self.divisor >> 8) & 0xFF if dlab else self.ier
        if reg == IIR_FCR:
            iir = self._iir()
            if iir & 0x0F == IIR_THRI:
                self.thr_pending = False  # reading IIR acknowledges THRE
            return iir
        if reg == LCR:
            return self.lcr
        if reg == MCR:
            return self.mcr
        if reg == LSR:
            value = self.lsr
            self.lsr &= ~LSR_ERRORS  # bits 1-4 are reset whenever the CPU reads LSR
            return value
        if reg == MSR:
            value = self._msr()
            self.msr &= ~MSR_DELTAS
            return value
        return self.scr

    def _write(self, reg: int, value: int) -> bytes | None:
        dlab = self.lcr & LCR_DLAB
        if reg == RBR_THR_DLL:
            if dlab:
                self.divisor = (self.divisor & 0xFF00) | value
                return None
            # Writing THR clears the THRE interrupt; the character leaves at once, so THR
            # is empty again and THRE is raised anew: the line falls and rises, giving an
            # edge-triggered PIC the new interrupt a real UART would.
            self.thr_pending = False
            self._update_irq()
            self.thr_pending = bool(self.ier & IER_THRI)
            if self.mcr & MCR_LOOP:
                self._loopback(value)
                return None
            return bytes([value])
        if reg == IER_DLM:
            if dlab:
                self.divisor = (self.divisor & 0x00FF) | (value << 8)
            else:
                enabling_thri = value & IER_THRI and not self.ier & IER_THRI
                self.ier = value & 0x0F
                if enabling_thri:
                    self.thr_pending = True  # THR is empty: say so at once, as a 16550 does
            return None
        if reg == IIR_FCR:
            self._write_fcr(value)
        elif reg == LCR:
            self.lcr = value
        elif reg == MCR:
            self._write_mcr(value)
        elif reg == SCR:
            self.scr = value
        return None  # LSR and MSR are read-only

    def _write_fcr(self, value: int) -> None:
        if value & FCR_CLEAR_RX:
            self.rx.clear()
            self.lsr &= ~LSR_DR
        if (value ^ self.fcr) & FCR_ENABLE:
            self.rx.clear()
            self.lsr &= ~LSR_DR
        self.fcr = value & 0xC9
        self._fill_rx()

    def _write_mcr(self, value: int) -> None:
        old = self._msr()
        self.mcr = value & 0x1F
        new = self._msr()
        changed = (old ^ new) & 0xF0
        self.msr |= (changed >> 4) & (MSR_DCTS | MSR_DDSR | MSR_DDCD)
        if old & MSR_RI and not new & MSR_RI:
            self.msr |= MSR_TERI

    def _msr(self) -> int:
        if self.mcr & MCR_LOOP:
            lines = 0
            lines |= MSR_CTS if self.mcr & MCR_RTS else 0
            lines |= MSR_DSR if self.mcr & MCR_DTR else 0
            lines |= MSR_RI if self.mcr & MCR_OUT1 else 0
            lines |= MSR_DCD if self.mcr & MCR_OUT2 else 0
            return lines | (self.msr & MSR_DELTAS)
        return self.msr

    def _loopback(self, value: int) -> None:
        if len(self.rx) < self._fifo_capacity():
            self.rx.append(value)
        else:
            self.lsr |= LSR_OE
        self.lsr |= LSR_DR

    def _trigger_level(self) -> int:
        return TRIGGER_LEVELS[self.fcr >> 6] if self.fcr & FCR_ENABLE else 1

    def _iir(self) -> int:
        fifo = IIR_FIFO_ENABLED if self.fcr & FCR_ENABLE else 0
        if self.ier & IER_RLSI and self.lsr & LSR_ERRORS:
            return fifo | IIR_RLSI
        if self.ier & IER_RDI and self.rx:
            # Below the trigger level the guest learns of data by the character timeout.
            below = len(self.rx) < self._trigger_level()
            return fifo | (IIR_CTI if below else IIR_RDI)
        if self.ier & IER_THRI and self.thr_pending:
            return fifo | IIR_THRI
        if self.ier & IER_MSI and self._msr() & MSR_DELTAS:
            return fifo | IIR_MSI
        return fifo | IIR_NO_INT

    def _update_irq(self) -> None:
        level = not self._iir() & IIR_NO_INT
        if level != self._irq_level:
            self._irq_level = level
            self.set_irq(level)
