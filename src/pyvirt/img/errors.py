"""How a command fails: a message on stderr after the program's name, and an exit status."""

from __future__ import annotations

PROGRAM = "pyvirt-img"


class ImgError(Exception):
    """A failure reported as `pyvirt-img: MESSAGE`, exit `status`.

    Only the first line gets the prefix: further lines are hints, as in QEMU.
    """

    def __init__(
        self, message: str, status: int = 1, *, usage: bool = False, hint: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.hint = hint  # printed as is after the message line, as QEMU's error hints
        self.usage = usage  # qemu-img adds "Try '... --help'" after command-line mistakes


def usage_error(message: str) -> ImgError:
    return ImgError(message, usage=True)


def render(error: ImgError) -> str:
    text = f"{PROGRAM}: {error}\n{error.hint}"
    if error.usage:
        text += f"Try '{PROGRAM} --help' for more information\n"
    return text
