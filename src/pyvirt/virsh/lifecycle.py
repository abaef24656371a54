"""Starting and stopping domains: start, shutdown, reboot, reset, destroy, suspend, resume,
save and restore."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from pyvirt.client import virDomain
from pyvirt.drivers.save_image import read_header
from pyvirt.virsh.commands import Kind, Opt, command, domain_opt, flag
from pyvirt.virsh.console import run_console
from pyvirt.virsh.context import Ctl
from pyvirt.virsh.domain import DOMAIN, FILE_OPT, read_file
from pyvirt.virsh.errors import VirshError, call, failing
from pyvirt.virsh.progress import Progress
from pyvirt.virterror import VirtError

START_PAUSED, START_AUTODESTROY, START_BYPASS_CACHE, START_FORCE_BOOT = 1, 2, 4, 8
START_VALIDATE, START_RESET_NVRAM = 4, 16  # createXML's VALIDATE shares BYPASS_CACHE's bit
PASS_FDS = Opt("pass-fds", Kind.STRING, "pass file descriptors N,M,... to the guest")
RESET_NVRAM = flag("reset-nvram", "re-initialize NVRAM from its pristine template")


def start_flags(o: dict[str, Any], *names: str) -> int:
    """The virDomainCreateFlags for the options given; --pass-fds is refused."""
    if o["pass-fds"] is not None:
        raise VirshError("--pass-fds is not supported by pyvirsh")
    bits = {"paused": START_PAUSED, "autodestroy": START_AUTODESTROY,
            "bypass-cache": START_BYPASS_CACHE, "force-boot": START_FORCE_BOOT,
            "validate": START_VALIDATE, "reset-nvram": START_RESET_NVRAM}  # fmt: skip
    return sum(bits[name] for name in names if o[name])


@command(
    "start",
    DOMAIN,
    "start a (previously defined) inactive domain",
    "Start a domain, either from the last managedsave\n    state, or via a fresh boot if no "
    "managedsave state\n    is present.",
    domain_opt("name of the inactive domain"),
    flag("console", "attach to console after creation"),
    flag("paused", "leave the guest paused after creation"),
    flag("autodestroy", "automatically destroy the guest when virsh disconnects"),
    flag("bypass-cache", "avoid file system cache when loading"),
    flag("force-boot", "force fresh boot by discarding any managed save"),
    PASS_FDS,
    RESET_NVRAM,
)
def cmd_start(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    if call(dom.isActive):
        raise VirshError("Domain is already active")
    flags = start_flags(o, "paused", "autodestroy", "bypass-cache", "force-boot", "reset-nvram")
    with failing(f"Failed to start domain '{dom.name()}'"):
        dom.createWithFlags(flags) if flags else dom.create()
    ctl.info(f"Domain '{dom.name()}' started")
    if o["console"]:
        run_console(ctl, dom)


@command(
    "create",
    DOMAIN,
    "create a domain from an XML file",
    "Create a domain.",
    FILE_OPT,
    flag("console", "attach to console after creation"),
    flag("paused", "leave the guest paused after creation"),
    flag("autodestroy", "automatically destroy the guest when virsh disconnects"),
    PASS_FDS,
    flag("validate", "validate the XML against the schema"),
    RESET_NVRAM,
)
def cmd_create(ctl: Ctl, o: dict[str, Any]) -> None:
    xml = read_file(o["file"])
    flags = start_flags(o, "paused", "autodestroy", "validate", "reset-nvram")
    with failing(f"Failed to create domain from {o['file']}"):
        dom = ctl.conn.createXML(xml, flags)
    ctl.info(f"Domain '{dom.name()}' created from {o['file']}")
    if o["console"]:
        run_console(ctl, dom)


def simple(
    name: str,
    summary: str,
    description: str,
    done: str,
    failed: str,
    action: Callable[[virDomain, dict[str, Any]], object],
    *opts: Opt,
) -> None:
    """A command that does one thing to a domain and says so: `Domain 'x' <done>`."""

    def handler(ctl: Ctl, o: dict[str, Any]) -> None:
        dom = ctl.domain(o["domain"])
        with failing(f"Failed to {failed} domain '{dom.name()}'"):
            action(dom, o)
        ctl.info(f"Domain '{dom.name()}' {done}")

    command(name, DOMAIN, summary, description, domain_opt(), *opts)(handler)


_MODE = Opt("mode", Kind.STRING, "shutdown mode: acpi|agent|initctl|signal|paravirt")
_MODES = {"acpi": 1, "agent": 2, "initctl": 4, "signal": 8, "paravirt": 16}


def mode_flags(o: dict[str, Any]) -> int:
    flags = 0
    for mode in filter(None, (o["mode"] or "").split(",")):
        if mode not in _MODES:
            raise VirshError(
                f"Unknown mode {mode} value, expecting 'acpi', 'agent', "
                "'initctl', 'signal' or 'paravirt'"
            )
        flags |= _MODES[mode]
    return flags


simple(
    "shutdown",
    "gracefully shutdown a domain",
    "Run shutdown in the target domain.",
    "is being shutdown",
    "shutdown",
    lambda d, o: d.shutdownFlags(flags) if (flags := mode_flags(o)) else d.shutdown(),
    _MODE,
)
simple(
    "reboot",
    "reboot a domain",
    "Run a reboot command in the target domain.",
    "is being rebooted",
    "reboot",
    lambda d, o: d.reboot(mode_flags(o)),
    _MODE,
)
simple(
    "reset",
    "reset a domain",
    "Reset the target domain as if by power button",
    "was reset",
    "reset",
    lambda d, o: d.reset(0),
)
simple(
    "destroy",
    "destroy (stop) a domain",
    "Forcefully stop a given domain, but leave its resources intact.",
    "destroyed",
    "destroy",
    lambda d, o: d.destroyFlags(flags) if (flags := destroy_flags(o)) else d.destroy(),
    flag("graceful", "terminate gracefully"),
    flag("remove-logs", "remove domain logs"),
)
simple(
    "suspend",
    "suspend a domain",
    "Suspend a running domain.",
    "suspended",
    "suspend",
    lambda d, o: d.suspend(),
)
simple(
    "resume",
    "resume a domain",
    "Resume a previously suspended domain.",
    "resumed",
    "resume",
    lambda d, o: d.resume(),
)


def destroy_flags(o: dict[str, Any]) -> int:
    return (1 if o["graceful"] else 0) | (2 if o["remove-logs"] else 0)


_VERBOSE = flag("verbose", "display the progress")


def job_bytes(dom: virDomain) -> tuple[int, int]:
    """(data remaining, data total) of the domain's job, 0s when none runs."""
    stats = dom.jobStats()
    return stats.get("data_remaining", 0), stats.get("data_total", 0)


def saved_name(path: str) -> str | None:
    """The domain's name in a save file, if this client can read the file."""
    try:
        xml, _ = read_header(path)
        return ET.fromstring(xml).findtext("name")
    except (VirtError, ET.ParseError):
        return None


@command(
    "save",
    DOMAIN,
    "save a domain state to a file",
    "Save the RAM state of a running domain.",
    domain_opt(),
    Opt("file", Kind.DATA, "where to save the data", required=True),
    _VERBOSE,
)
def cmd_save(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    with failing(f"Failed to save domain '{dom.name()}' to {o['file']}"):
        Progress.run("Save", o["verbose"], lambda: dom.save(o["file"]), lambda: job_bytes(dom))
    ctl.info(f"\nDomain '{dom.name()}' saved to {o['file']}")


@command(
    "restore",
    DOMAIN,
    "restore a domain from a saved state in a file",
    "Restore a domain.",
    Opt("file", Kind.DATA, "the state to restore", required=True),
    _VERBOSE,
)
def cmd_restore(ctl: Ctl, o: dict[str, Any]) -> None:
    conn = ctl.conn
    name = saved_name(o["file"])

    def poll() -> tuple[int, int] | None:
        """The restored domain's job, once the daemon has it."""
        return None if name is None else job_bytes(conn.lookupByName(name))

    with failing(f"Failed to restore domain from {o['file']}"):
        Progress.run("Restore", o["verbose"], lambda: conn.restore(o["file"]), poll)
    ctl.info(f"Domain restored from {o['file']}")
