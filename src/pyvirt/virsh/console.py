"""`console`: the guest's serial console on this terminal, raw, until Ctrl-] (or the escape
character -e sets), the guest stops, or a signal arrives; the terminal is restored on every
one of those paths."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from typing import Any

from pyvirt.client import virDomain, virStream
from pyvirt.virsh.commands import Kind, Opt, command, domain_opt, flag, group
from pyvirt.virsh.context import Ctl
from pyvirt.virsh.errors import VirshError, call, failing
from pyvirt.virterror import VirtError

CONSOLE_FORCE, CONSOLE_SAFE = 1, 2
DOMAIN = group("domain", "Domain Management")


class Hangup(Exception):
    """SIGTERM or SIGHUP while the console is attached."""


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    saved = termios.tcgetattr(fd)

    def hangup(signum: int, frame: object) -> None:
        raise Hangup(signum)

    old_handlers = {sig: signal.signal(sig, hangup) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        tty.setraw(fd, termios.TCSAFLUSH)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)


def pump_guest_output(stream: virStream, out_fd: int, wake_fd: int) -> None:
    """Copy the guest's output to the terminal until the stream ends, then wake the main loop."""
    try:
        while data := stream.recv(65536):
            os.write(out_fd, data)
    except (VirtError, OSError):
        pass
    finally:
        os.write(wake_fd, b"x")
        os.close(wake_fd)


def run_console(ctl: Ctl, dom: virDomain, devname: str | None = None, flags: int = 0) -> None:
    in_fd, out_fd = sys.stdin.fileno(), sys.stdout.fileno()
    if not os.isatty(in_fd):
        raise VirshError("Cannot run interactive console without a controlling TTY")
    if not call(dom.isActive):
        raise VirshError("The domain is not running")
    stream = ctl.conn.newStream(0)
    with failing("internal error: cannot open console"):
        dom.openConsole(devname, stream, flags)
    escape = ctl.escape
    ctl.out.write(
        f"Connected to domain '{dom.name()}'\n"
        f"Escape character is {escape_name(escape)} (Ctrl + {chr(escape[0] + 64)})\n"
    )
    ctl.out.flush()
    wake_r, wake_w = os.pipe()
    pump = threading.Thread(target=pump_guest_output, args=(stream, out_fd, wake_w), daemon=True)
    try:
        with raw_terminal(in_fd):
            pump.start()
            while True:
                ready = select.select([in_fd, wake_r], [], [])[0]
                if wake_r in ready:
                    break
                data = os.read(in_fd, 4096)
                if not data:
                    break
                head, hit, _ = data.partition(escape)
                if head:
                    stream.send(head)
                if hit:
                    break
    except Hangup:
        pass
    finally:
        with contextlib.suppress(VirtError, OSError):
            stream.finish()
        os.close(wake_r)
        ctl.out.write("\n")
        ctl.out.flush()


def escape_name(escape: bytes) -> str:
    return f"^{chr(escape[0] + 64)}"


@command(
    "console",
    DOMAIN,
    "connect to the guest console",
    "Connect the virtual serial console for the guest",
    domain_opt(),
    Opt("devname", Kind.STRING, "character device name"),
    flag("force", "force console connection (disconnect already connected sessions)"),
    flag("safe", "only connect if safe console handling is supported"),
)
def cmd_console(ctl: Ctl, o: dict[str, Any]) -> None:
    flags = (CONSOLE_FORCE if o["force"] else 0) | (CONSOLE_SAFE if o["safe"] else 0)
    run_console(ctl, ctl.domain(o["domain"]), o["devname"], flags)
