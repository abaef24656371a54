"""Fixtures for the tiny test guests, built by guests/tiny/build.py into the cache."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

import pytest

BUILD_PY = Path(__file__).resolve().parents[2] / "guests" / "tiny" / "build.py"


def _load_build_module() -> ModuleType:
    """Import guests/tiny/build.py, which is a script rather than part of a package."""
    spec = importlib.util.spec_from_file_location("tiny_guest_build", BUILD_PY)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {BUILD_PY}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


class TinyGuests(Mapping[str, Path]):
    """Guest name -> image path; each guest is built (or found in the cache) on first use.

    A guest that fails to build fails the test that asked for it, with the tool's output.
    """

    def __init__(self, build: ModuleType) -> None:
        self._build = build
        self._paths: dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        if name not in self._paths:
            try:
                self._paths[name] = self._build.build([name])[name]
            except self._build.BuildError as err:
                pytest.fail(f"building tiny guest {name} failed:\n{err}", pytrace=False)
        return self._paths[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._build.GUESTS)

    def __len__(self) -> int:
        return len(self._build.GUESTS)


@pytest.fixture(scope="session")
def tiny_guests() -> TinyGuests:
    """The tiny guests; skips when gcc or binutils are missing."""
    build = _load_build_module()
    missing = build.missing_tools()
    if missing:
        pytest.skip(
            f"cannot build the tiny guests: {', '.join(missing)} not found "
            "(apt-get install gcc binutils)"
        )
    return TinyGuests(build)
