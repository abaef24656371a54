"""The file `virsh save` writes: a header with the domain's XML, then the VM state (the VMM's
migration stream; nothing for the test driver). libvirt's layout is its own, so is ours."""

from __future__ import annotations

from pyvirt.virterror import ErrorCode, VirtError

MAGIC = b"PyvirtSave1\n"


def write_header(path: str, xml: str) -> None:
    data = xml.encode()
    try:
        with open(path, "wb") as f:
            f.write(MAGIC + b"%d\n" % len(data) + data)
    except OSError as e:
        raise VirtError(
            ErrorCode.SYSTEM_ERROR, f"Failed to create file '{path}': {e.strerror}"
        ) from e


def read_header(path: str) -> tuple[str, int]:
    """(domain XML, offset of the VM state)."""
    try:
        with open(path, "rb") as f:
            magic = f.read(len(MAGIC))
            length = f.readline()
            if magic != MAGIC or not length.strip().isdigit():
                raise VirtError.of(ErrorCode.OPERATION_FAILED, f"'{path}' is not a saved domain")
            xml = f.read(int(length))
            return xml.decode(), f.tell()
    except OSError as e:
        raise VirtError(ErrorCode.SYSTEM_ERROR, f"cannot open file '{path}': {e.strerror}") from e
