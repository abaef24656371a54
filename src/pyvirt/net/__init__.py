"""Network backends: the host ends of guest NICs (tap, user-mode NAT, stream sockets)."""

from __future__ import annotations

from pyvirt.net.backend import NetBackend, NetPeer
from pyvirt.vmm.netdev_options import NetdevSpec, StreamNetdev, TapNetdev, UserNetdev

__all__ = ["NetBackend", "NetPeer", "open_backend"]


def open_backend(spec: NetdevSpec) -> NetBackend:
    """Open the host side now (errors are VmmErrors naming the netdev); start(loop) later."""
    if isinstance(spec, UserNetdev):
        from pyvirt.net.user import UserBackend

        return UserBackend(spec)
    if isinstance(spec, TapNetdev):
        from pyvirt.net.tap import TapBackend

        return TapBackend(spec)
    if isinstance(spec, StreamNetdev):
        from pyvirt.net.stream import StreamBackend

        return StreamBackend(spec)
    raise TypeError(f"not a netdev spec: {spec!r}")
