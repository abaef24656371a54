"""Running pyvirt-manager for the browser tests, and Debian's chromium under Playwright."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "manager"


@contextmanager
def manager(*uris: str, log: Path) -> Iterator[str]:
    """pyvirt-manager on a free port: yields the sign-in address it prints."""
    argv = [sys.executable, "-m", "pyvirt.manager", "--port", "0",
            "--config", str(log.parent / "manager.json")]  # fmt: skip
    for uri in uris:
        argv += ["--connect", uri]
    with log.open("ab") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline().decode() if ready else ""
        if "token=" not in line:
            pytest.fail(f"pyvirt-manager did not start:\n{log.read_text('replace')}")
        yield line.split(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A fresh headless chromium (a new profile each time)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


def shot(page: Page, name: str) -> None:
    """A screenshot into artifacts/manager/ (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # focusing the terminal scrolls the page
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
