"""Errors the VMM reports to the user in QEMU's one-line style: "prog: -opt: message"."""

from __future__ import annotations


class VmmError(Exception):
    """A problem the user can fix; printed without a traceback."""


class OptionError(VmmError):
    """A command-line option is unknown, malformed or unsupported."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
