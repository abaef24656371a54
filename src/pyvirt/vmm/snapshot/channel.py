"""Migration URIs as QEMU spells them, opened as a file descriptor to stream through.

file:PATH   a file (QEMU 8.2 and later speak this one too)
exec:CMD    a shell command: our stream on its stdin (outgoing) or stdout (incoming),
            e.g. "exec:cat > FILE", "exec:gzip -c > FILE", "exec:cat FILE"
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from .stream import SnapshotError

SCHEMES = ("file:", "exec:")


def valid_uri(uri: str) -> bool:
    return uri.startswith(SCHEMES) and len(uri) > uri.index(":") + 1


@dataclass
class Channel:
    fd: int
    process: subprocess.Popen[bytes] | None = None
    uri: str = ""

    def close(self) -> None:
        """Close our end; for exec:, wait for the command and fail if it failed."""
        if self.process is None:
            os.close(self.fd)
            return
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        status = self.process.wait()
        if status != 0:
            raise SnapshotError(f"'{self.uri}': the command exited with status {status}")


def open_channel(uri: str, outgoing: bool) -> Channel:
    scheme, _, target = uri.partition(":")
    if scheme == "file":
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC if outgoing else os.O_RDONLY
        try:
            return Channel(os.open(target, flags | os.O_CLOEXEC, 0o600), uri=uri)
        except OSError as e:
            raise SnapshotError(f"cannot open '{target}': {e.strerror}") from None
    if scheme == "exec":
        pipe = {"stdin": subprocess.PIPE} if outgoing else {"stdout": subprocess.PIPE}
        try:
            process = subprocess.Popen(["/bin/sh", "-c", target], **pipe)  # type: ignore[call-overload]
        except OSError as e:
            raise SnapshotError(f"cannot run '{target}': {e.strerror}") from None
        stream = process.stdin if outgoing else process.stdout
        return Channel(stream.fileno(), process, uri)
    raise SnapshotError(f"'{uri}' is not a supported migration URI (file:PATH or exec:CMD)")
