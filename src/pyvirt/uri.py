"""Connection URIs as libvirt spells them: `driver[+transport]://[host]/path[?socket=..]`.

The driver part chooses the hypervisor driver in the daemon; the transport and
the `socket` parameter only tell the client how to reach the daemon, so the name
sent in connect-open is the URI without them (as libvirt's remote driver does).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

_CLIENT_PARAMS = {"socket", "mode", "no_verify", "no_tty", "keyfile", "pkipath", "command"}


@dataclass(frozen=True)
class ConnectURI:
    driver: str  # "pyvirt", "qemu", "test"
    transport: str | None  # "unix" or None (local)
    host: str
    path: str  # "/session", "/system", "/default"
    params: dict[str, str]

    @property
    def name(self) -> str:
        """The URI the daemon sees in connect-open."""
        query = {k: v for k, v in self.params.items() if k not in _CLIENT_PARAMS}
        return f"{self.driver}://{self.path}" + (f"?{urlencode(query)}" if query else "")

    @property
    def socket(self) -> Path:
        if "socket" in self.params:
            return Path(self.params["socket"])
        return default_run_dir(system=self.path == "/system") / "libvirt-sock"


def parse(uri: str) -> ConnectURI:
    parts = urlsplit(uri)
    if not parts.scheme or not uri.startswith(f"{parts.scheme}://"):
        raise VirtError.of(ErrorCode.INVALID_ARG, f"unable to parse URI {uri}", ErrorDomain.NONE)
    driver, _, transport = parts.scheme.partition("+")
    if transport not in ("", "unix"):
        raise VirtError(
            ErrorCode.NO_SUPPORT,
            f"this function is not supported by the connection driver: transport '{transport}'",
            ErrorDomain.REMOTE,
        )
    if parts.hostname:
        raise VirtError(
            ErrorCode.NO_SUPPORT,
            f"this function is not supported by the connection driver: remote host "
            f"'{parts.hostname}' (only local unix sockets)",
            ErrorDomain.REMOTE,
        )
    return ConnectURI(
        driver=driver,
        transport=transport or None,
        host=parts.hostname or "",
        path=parts.path or "/",
        params=dict(parse_qsl(parts.query)),
    )


def default_run_dir(system: bool = False) -> Path:
    """Where pyvirtd's sockets live: like libvirt's, /run for the system daemon and
    $XDG_RUNTIME_DIR (or the cache directory) for a session daemon."""
    if system:
        return Path("/run/pyvirt")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "pyvirt"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "pyvirt" / "run"


def default_state_dir(system: bool = False) -> Path:
    if system:
        return Path("/var/lib/pyvirt")
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "pyvirt"
