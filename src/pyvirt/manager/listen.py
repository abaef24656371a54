"""Where the manager may listen: beyond loopback only with a password or TLS."""

from __future__ import annotations

import ipaddress


class ListenRefused(ValueError):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_listen(host: str, *, password: bool, tls: bool) -> None:
    if not is_loopback(host) and not (password or tls):
        raise ListenRefused(
            f"refusing to listen on {host}, beyond localhost, without a password "
            "(--password-file) or TLS (--tls-cert and --tls-key)"
        )
