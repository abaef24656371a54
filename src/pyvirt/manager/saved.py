"""The connection list, kept across restarts as virt-manager keeps its own.

A JSON file ({"connections": [URI, ...]}) replaced atomically on each change.
A file that cannot be read is left alone (and not overwritten): the manager
says so and starts with the connections of its command line.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from pyvirt.drivers.files import write_atomically

log = logging.getLogger(__name__)


def default_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "pyvirt" / "manager.json"


class SavedConnections:
    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: nothing is kept

    def load(self) -> list[str]:
        if self.path is None or not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text())
            uris = data["connections"]
            if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
                raise ValueError("'connections' is not a list of URIs")
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning(
                "%s: cannot read the saved connections (%s); not saving changes", self.path, e
            )
            self.path = None
            return []
        return uris

    def save(self, uris: list[str]) -> None:
        if self.path is None:
            return
        try:
            write_atomically(self.path, json.dumps({"connections": uris}, indent=2) + "\n")
        except OSError as e:
            log.warning("%s: cannot save the connections: %s", self.path, e)
