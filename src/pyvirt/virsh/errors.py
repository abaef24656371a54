"""How a command fails: the lines virsh prints after `error: `, exit status 1."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from pyvirt.virsh.output import colour_enabled
from pyvirt.virterror import VirtError

T = TypeVar("T")


class VirshError(Exception):
    """A command failed; each message becomes one `error: ...` line on stderr.

    `usage` is set for command-line mistakes, so the shell can show the synopsis.
    """

    def __init__(self, *messages: str, usage: bool = False) -> None:
        super().__init__(messages[0] if messages else "")
        self.messages = list(messages)
        self.usage = usage


def report(error: VirshError) -> None:
    """Print `error: ...` lines on stderr ("error" in red on a terminal)."""
    prefix = "\x1b[31merror\x1b[0m" if colour_enabled(sys.stderr) else "error"
    for message in error.messages:
        print(f"{prefix}: {message}", file=sys.stderr)


@contextmanager
def failing(message: str) -> Iterator[None]:
    """virsh's `Failed to ...` line, followed by the daemon's own message."""
    try:
        yield
    except VirtError as e:
        raise VirshError(message, e.get_error_message()) from e


def call(fn: Callable[[], T]) -> T:
    """A client call whose failure virsh reports with the daemon's message alone."""
    try:
        return fn()
    except VirtError as e:
        raise VirshError(e.get_error_message()) from e
