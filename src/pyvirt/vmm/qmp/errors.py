"""QMP error replies: QEMU's error classes with QEMU's wording."""

from __future__ import annotations

GENERIC = "GenericError"
COMMAND_NOT_FOUND = "CommandNotFound"
DEVICE_NOT_FOUND = "DeviceNotFound"


class QmpError(Exception):
    """A command failed; becomes {"error": {"class": ..., "desc": ...}}."""

    def __init__(self, desc: str, error_class: str = GENERIC) -> None:
        super().__init__(desc)
        self.desc = desc
        self.error_class = error_class

    def reply(self) -> dict[str, object]:
        return {"error": {"class": self.error_class, "desc": self.desc}}
