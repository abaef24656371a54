"""End to end: chromium (Playwright) drives pyvirt-manager against a real pyvirtd.

The test driver covers the pages quickly; the Linux guest on pyvirt:///session
goes through a VM's whole life: wizard, console, graph, reboot, shutdown, delete.
Screenshots of every page land in artifacts/manager/.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

import pyvirt
from tests.conftest import kvm_usable
from tests.daemon.conftest import pyvirtd
from tests.daemon.daemons import Daemon, start_pyvirtd
from tests.linux.conftest import LinuxGuest, linux_guest

from .browser import chromium, manager, shot, wait_until

__all__ = ["linux_guest", "pyvirtd"]
pytestmark = pytest.mark.browser

BOOT_TIMEOUT = 180_000  # ms: the Linux guest's kernel runs emulated here (DESIGN.md)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1100, "height": 720})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page
        assert not errors, errors
        context.close()


def test_pages_on_the_test_driver(pyvirtd: Daemon, page: Page, tmp_path: Path) -> None:
    with manager(pyvirtd.uri(), log=tmp_path / "manager.log") as address:
        page.goto(address)
        row = page.locator("tr[data-name=test]")
        expect(row.locator(".badge")).to_have_text("running")
        expect(page.locator("#conn-state")).to_have_text("connected")
        row.locator("[data-action=suspend]").click()
        expect(row.locator(".badge")).to_have_text("paused")  # pushed by the daemon's event
        row.locator("[data-action=resume]").click()
        expect(row.locator(".badge")).to_have_text("running")
        shot(page, "test-list")

        page.goto(address.split("?")[0] + "#/vm/test/graphs")  # the test driver's counters grow
        for rates in ("#disk-now", "#net-now"):
            expect(page.locator(rates)).to_have_text(re.compile(r"^[1-9][\d.]* \S+/s "))
        expect(page.locator("#graph-net")).to_have_attribute("data-points", re.compile(r"\d"))
        shot(page, "test-graphs")

        page.goto(address.split("?")[0] + "#/vm/test/xml")
        page.locator("#xml").fill("<domain type='test'><name>test</name></domain>")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("form.xml .error")).to_contain_text("memory")  # the daemon's words
        shot(page, "test-xml-error")

        page.goto(address.split("?")[0] + "#/vm/test/snapshots")
        page.get_by_label("Name", exact=True).fill("before")
        page.get_by_label("Description").fill("first")
        page.get_by_role("button", name="Create snapshot").click()
        snap = page.locator("tr[data-snapshot=before]")
        expect(snap).to_contain_text("current")
        expect(snap).to_contain_text("running")
        shot(page, "test-snapshots")
        snap.get_by_role("button", name="Revert").click()
        page.locator("#confirm-ok").click()
        expect(page.locator("#live")).to_have_text("Revert: done")
        page.get_by_label("Name", exact=True).fill("before")
        page.get_by_role("button", name="Create snapshot").click()  # the daemon's refusal
        expect(page.locator("form.snapshot-create + .error")).to_have_text(
            "operation failed: domain moment before already exists"
        )
        snap.get_by_role("button", name="Delete").click()
        page.locator("#confirm-ok").click()
        expect(snap).to_have_count(0)

        page.goto(address.split("?")[0] + "#/storage")
        pool = page.locator("section[data-pool=default-pool]")
        pool.get_by_label("Volume name").fill("web.qcow2")
        pool.get_by_label("Size (MiB)").fill("16")
        pool.get_by_role("button", name="Create volume").click()
        expect(pool.locator("td", has_text="web.qcow2").first).to_be_visible()
        shot(page, "test-storage")
        page.get_by_role("button", name="Delete web.qcow2").click()
        page.locator("#confirm-ok").click()
        expect(pool).to_contain_text("No volumes.")

        page.goto(address.split("?")[0] + "#/new")
        page.get_by_role("button", name="Create").click()
        expect(page.locator("#name-error")).not_to_be_empty()  # validated in the form
        page.get_by_label("Name").fill("vm1")
        page.get_by_label("Kernel (path on the host)").fill("relative/vmlinux")
        page.get_by_role("button", name="Create").click()
        expect(page.locator("#kernel-error")).to_contain_text("absolute path")
        shot(page, "test-wizard-errors")

        page.goto(address.split("?")[0] + "#/connections")
        page.get_by_label("URI").fill("bogus")
        page.get_by_role("button", name="Add connection").click()
        expect(page.locator("form.inline .error")).to_have_text(
            "invalid argument: unable to parse URI bogus"
        )
        shot(page, "test-connections")

        page.set_viewport_size({"width": 390, "height": 800})  # a phone
        page.goto(address.split("?")[0] + "#/")
        expect(page.locator("tr[data-name=test] .badge")).to_have_text("running")
        shot(page, "test-list-phone")


@pytest.fixture
def session_daemon() -> Iterator[tuple[Daemon, Path]]:
    """pyvirtd on pyvirt:///session in a short directory (unix socket paths are short)."""
    if not kvm_usable():
        pytest.skip("/dev/kvm is not usable")
    with tempfile.TemporaryDirectory(prefix="pvm-") as tmp:
        daemon = start_pyvirtd(Path(tmp), "pyvirt:///session")
        try:
            yield daemon, Path(tmp)
        finally:  # VMMs outlive their daemon: a failed test must not leave one running
            conn = pyvirt.open(daemon.uri("pyvirt", "/session"))
            for dom in conn.listAllDomains(1):  # VIR_CONNECT_LIST_DOMAINS_ACTIVE
                dom.destroy()
            conn.close()
            daemon.stop()


def wait_for_text(locator: Locator, pattern: re.Pattern[str], timeout: float) -> None:
    """Until the element's text matches; a failure lists what it showed meanwhile."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not pattern.match(text := locator.inner_text()):
        if text not in seen:
            seen.append(text)
        assert time.monotonic() < deadline, f"{pattern.pattern!r} never matched: {seen[-5:]}"
        time.sleep(0.3)


def console_text(page: Page) -> str:
    return page.locator(".xterm-rows").inner_text()


def ask_guest(page: Page, marker: str) -> None:
    """Type `echo marker$((6*7))` until the guest's shell answers markerNN (it may be booting)."""
    box = page.locator(".console-box")

    def answered() -> bool:
        if f"{marker}42" in console_text(page):
            return True
        box.click()
        page.keyboard.type(f"echo {marker}$((6*7))\n")
        page.wait_for_timeout(3000)
        return f"{marker}42" in console_text(page)

    wait_until(answered, BOOT_TIMEOUT / 1000, f"the guest's answer {marker}42")


@pytest.mark.kvm
@pytest.mark.linux
def test_a_linux_vm_from_wizard_to_delete(
    session_daemon: tuple[Daemon, Path], linux_guest: LinuxGuest, page: Page, tmp_path: Path
) -> None:
    daemon, top = session_daemon
    (top / "images").mkdir()
    with manager(daemon.uri("pyvirt", "/session"), log=tmp_path / "manager.log") as address:
        base = address.split("?")[0]
        page.goto(address)
        expect(page.locator("#conn-state")).to_have_text("connected")

        page.goto(base + "#/storage")
        expect(page.get_by_role("heading", name="Storage")).to_be_visible()
        page.get_by_label("Name", exact=True).fill("images")
        page.get_by_label("Directory (must exist)").fill(str(top / "images"))
        page.get_by_role("button", name="Add pool").click()
        expect(page.locator("section[data-pool=images] .badge")).to_have_text("running")

        page.goto(base + "#/new")
        expect(page.get_by_role("heading", name="New virtual machine")).to_be_visible()
        page.get_by_label("Name", exact=True).fill("web1")
        page.get_by_label("Memory (MiB)", exact=True).fill("256")
        page.get_by_label("Kernel (path on the host)").fill(str(linux_guest.vmlinux))
        page.get_by_label("Initrd (optional)").fill(str(linux_guest.initramfs))
        page.get_by_label("Command line", exact=True).fill(linux_guest.cmdline)
        page.get_by_label("A new volume").check()
        page.get_by_label("Size (MiB)", exact=True).fill("16")
        shot(page, "wizard")
        page.get_by_role("button", name="Create").click()
        expect(page).to_have_url(base + "#/vm/web1", timeout=60_000)
        expect(page.locator(".vmhead .badge")).to_have_text("running")
        shot(page, "details")

        page.goto(base + "#/")
        expect(page.locator("tr[data-name=web1] .badge")).to_have_text("running")

        page.goto(base + "#/vm/web1/console")
        ask_guest(page, "pyvirt")
        shot(page, "console")
        size = page.locator(".termbar .size").inner_text()
        page.set_viewport_size({"width": 700, "height": 600})
        expect(page.locator(".termbar .size")).not_to_have_text(size)  # the terminal refits
        page.set_viewport_size({"width": 1100, "height": 720})

        # Disk and network traffic for the graphs: reads every second, pings to the gateway.
        # The page stays until the guest has run the line (leaving closes the console).
        page.locator(".console-box").click()
        page.keyboard.type(
            "(while :; do dd if=/dev/vda of=/dev/null bs=4096 count=8 iflag=direct; sleep 1; done"
            " >/dev/null 2>&1 &); ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0;"
            " (ping -i 1 10.0.2.2 >/dev/null 2>&1 &); echo load$((6*7))\n"
        )
        wait_until(lambda: "load42" in console_text(page), 60, "the load started")
        page.goto(base + "#/vm/web1/graphs")
        graph = page.locator("#graph-cpu")
        wait_until(lambda: int(graph.get_attribute("data-points") or 0) >= 2, 20, "samples")
        points = int(graph.get_attribute("data-points") or 0)
        wait_until(
            lambda: int(graph.get_attribute("data-points") or 0) > points, 20, "a new sample"
        )
        for rates, what in (("#disk-now", "read"), ("#net-now", "received")):
            moving = re.compile(rf"^(?!0 B/s)[\d.]+ \S+/s {what}")
            wait_for_text(page.locator(rates), moving, 60)
        shot(page, "graphs")

        page.goto(base + "#/")
        shot(page, "list")
        page.goto(base + "#/vm/web1/console")
        box = page.locator(".console-box")
        expect(box).to_have_attribute("data-connects", "1")
        page.locator("[data-action=reboot]").click()
        expect(box).to_have_attribute("data-connects", "2", timeout=BOOT_TIMEOUT)
        ask_guest(page, "again")  # the console came back by itself after the reboot

        page.locator("[data-action=shutdown]").click()
        expect(page.locator(".vmhead .badge")).to_have_text("shut off", timeout=120_000)
        shot(page, "shut-off")

        page.locator(".vmhead [data-action=delete]").click()
        page.locator("#delete-volumes").check()
        page.locator("#confirm-ok").click()
        expect(page).to_have_url(base + "#/")
        expect(page.locator("tr[data-name=web1]")).to_have_count(0)
        page.goto(base + "#/storage")
        expect(page.locator("section[data-pool=images]")).to_contain_text("No volumes.")
