"""Ctl, the state commands share: the connection (opened on first use), output, lookups."""

from __future__ import annotations

import contextlib
import json
import sys
import uuid as uuidlib
from collections.abc import Sequence
from typing import Any, TextIO

import pyvirt
from pyvirt import uri as urimod
from pyvirt.client import virConnect, virDomain, virStoragePool, virStorageVol
from pyvirt.virsh.errors import VirshError
from pyvirt.virsh.output import table
from pyvirt.virterror import VirtError


class Ctl:
    def __init__(
        self,
        uri: str,
        readonly: bool = False,
        quiet: bool = False,
        debug: int = 4,
        out: TextIO | None = None,
        escape: bytes = b"\x1d",
    ) -> None:
        self.uri = uri
        self.readonly = readonly
        self.quiet = quiet
        self.debug = debug
        self.out = out or sys.stdout
        self._conn: virConnect | None = None
        self.interactive = False
        self.escape = escape  # the console's escape character (-e), Ctrl-] by default

    @property
    def conn(self) -> virConnect:
        if self._conn is None or not self._conn.isAlive():
            self._conn = connect(self.uri, self.readonly)
        return self._conn

    def connect(self, uri: str, readonly: bool) -> None:
        """Switch to another connection (the `connect` command)."""
        new = connect(uri, readonly)
        self.close()
        self._conn, self.uri, self.readonly = new, uri, readonly

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(VirtError, OSError):
                self._conn.close()
            self._conn = None

    # --- output
    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def info(self, text: str) -> None:
        """A status line (`Domain 'x' started`), which -q silences."""
        if not self.quiet:
            self.print(text)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        text = table(headers, rows, quiet=self.quiet)
        if text:
            self.print(text)

    def print_json(self, value: Any) -> None:
        self.print(json.dumps(value, indent=2))

    def log(self, level: int, text: str) -> None:
        """-d LEVEL: debug messages at or above that level (0 most verbose) go to stderr."""
        if level >= self.debug:
            print(f"debug: {text}", file=sys.stderr)

    # --- lookups, with virsh's messages
    def domain(self, name: str) -> virDomain:
        """By id, then UUID, then name, as virsh does."""
        conn = self.conn
        attempts = []
        if name.isdigit():
            attempts.append(lambda: conn.lookupByID(int(name)))
        if is_uuid(name):
            attempts.append(lambda: conn.lookupByUUIDString(name))
        attempts.append(lambda: conn.lookupByName(name))
        for attempt in attempts:
            try:
                return attempt()
            except VirtError as e:
                self.log(1, e.get_error_message())
        raise VirshError(f"failed to get domain '{name}'")

    def pool(self, name: str) -> virStoragePool:
        """By UUID, then name; virsh keeps the last lookup's error (unlike for domains)."""
        conn = self.conn
        if is_uuid(name):
            try:
                return conn.storagePoolLookupByUUIDString(name)
            except VirtError as e:
                self.log(1, e.get_error_message())
        try:
            return conn.storagePoolLookupByName(name)
        except VirtError as e:
            raise VirshError(f"failed to get pool '{name}'", e.get_error_message()) from e

    def volume(self, name: str, pool: str | None) -> virStorageVol:
        """By name in --pool, then by key, then by path, as virsh tries them."""
        conn = self.conn
        attempts = [conn.storageVolLookupByKey, conn.storageVolLookupByPath]
        if pool is not None:
            attempts.insert(0, self.pool(pool).storageVolLookupByName)
        error: VirtError | None = None
        for attempt in attempts:
            try:
                return attempt(name)
            except VirtError as e:
                error = e
        assert error is not None
        hint = "" if pool is not None else ", specifying --pool might help"
        raise VirshError(f"failed to get vol '{name}'{hint}", error.get_error_message())


def is_uuid(text: str) -> bool:
    try:
        uuidlib.UUID(text)
    except ValueError:
        return False
    return len(text) >= 32


def connect(uri: str, readonly: bool) -> virConnect:
    try:
        return pyvirt.openReadOnly(uri) if readonly else pyvirt.open(uri)
    except VirtError as e:
        raise VirshError("failed to connect to the hypervisor", e.get_error_message()) from e
    except OSError as e:
        try:
            path = urimod.parse(uri).socket
        except VirtError as bad:
            raise VirshError(
                "failed to connect to the hypervisor", bad.get_error_message()
            ) from bad
        raise VirshError(
            "failed to connect to the hypervisor",
            f"Failed to connect socket to '{path}': {e.strerror}",
        ) from e
