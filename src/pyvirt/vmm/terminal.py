"""Put a terminal in raw mode and make sure it comes back on every way out."""

from __future__ import annotations

import atexit
import contextlib
import os
import termios


class RawTerminal:
    """Raw mode on `fd` (no echo, no line editing, no CR/LF mapping on input).

    With `signals`, Ctrl-C still interrupts the VMM; without, it goes to the guest.
    Output post-processing stays on, so the guest's "\\n" still starts a new line.
    """

    def __init__(self, fd: int, *, signals: bool) -> None:
        self.fd = fd
        self.saved: list | None = None
        self.signals = signals

    def enter(self) -> None:
        if not os.isatty(self.fd):
            return
        self.saved = termios.tcgetattr(self.fd)
        attrs = termios.tcgetattr(self.fd)
        iflag, oflag, cflag, lflag = attrs[0], attrs[1], attrs[2], attrs[3]
        iflag &= ~(
            termios.IGNBRK
            | termios.BRKINT
            | termios.PARMRK
            | termios.ISTRIP
            | termios.INLCR
            | termios.IGNCR
            | termios.ICRNL
            | termios.IXON
        )
        lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.IEXTEN)
        if not self.signals:
            lflag &= ~termios.ISIG
        cflag = (cflag & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
        attrs[0], attrs[1], attrs[2], attrs[3] = iflag, oflag, cflag, lflag
        attrs[6][termios.VMIN], attrs[6][termios.VTIME] = 1, 0
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)
        atexit.register(self.restore)

    def restore(self) -> None:
        if self.saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self.fd, termios.TCSANOW, self.saved)
            self.saved = None
