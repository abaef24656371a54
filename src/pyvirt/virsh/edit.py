"""`edit`: the domain's XML in $VISUAL/$EDITOR, redefined on save; on a bad edit, virsh's
"Failed. Try again? [y,n,i,f,?]:" loop."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import termios
import tty
from typing import Any

from pyvirt.virsh.commands import command, domain_opt, flag, group
from pyvirt.virsh.context import Ctl
from pyvirt.virsh.domain import XML_INACTIVE, XML_SECURE
from pyvirt.virsh.errors import VirshError, call, report
from pyvirt.virterror import VirtError

DOMAIN = group("domain", "Domain Management")
DEFINE_VALIDATE = 1

HELP = """
--------------------------------------------------------
y - yes, start editor again
n - no, throw away my changes
i - turn off validation and try to redefine again
f - force, try to redefine again
? - print this help
--------------------------------------------------------"""


def run_editor(path: str) -> None:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    status = subprocess.call([*shlex.split(editor), path])
    if status != 0:
        raise VirshError(f"{editor} {path}: command failed: exit status {status}")


def read_key() -> str:
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)  # keep keys typed ahead of the question
        return os.read(fd, 1).decode(errors="replace").lower()
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def ask_reedit(msg: str, relax: bool, error: VirtError | None) -> str:
    """y, n, i or f as the user answers; "" when stdin is no terminal (virsh gives up)."""
    if not sys.stdin.isatty():
        return ""
    if error is not None:
        report(VirshError(error.get_error_message()))
    choices = "[y,n,i,f,?]" if relax else "[y,n,f,?]"
    while True:
        sys.stdout.write(f"\r{msg} Try again? {choices}: ")
        sys.stdout.flush()
        key = read_key()
        if key == "?":
            help_lines = (
                HELP
                if relax
                else HELP.replace("i - turn off validation and try to redefine again\n", "")
            )
            sys.stdout.write(help_lines.replace("\n", "\r\n") + "\r\n")
        elif key in ("y", "n", "f") or (relax and key == "i"):
            sys.stdout.write("\r\n")
            return key


@command(
    "edit",
    DOMAIN,
    "edit XML configuration for a domain",
    "Edit the XML configuration for a domain.",
    domain_opt(),
    flag("skip-validate", "skip validation of the XML against the schema"),
)
def cmd_edit(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    flags = XML_SECURE | XML_INACTIVE
    original = call(lambda: dom.XMLDesc(flags))
    fd, path = tempfile.mkstemp(prefix="virsh", suffix=".xml")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(original)
        edit_loop(ctl, dom.name(), original, path, validate=not o["skip-validate"])
    finally:
        os.unlink(path)


def edit_loop(ctl: Ctl, name: str, original: str, path: str, validate: bool) -> None:
    relax = validate  # "i" (turn validation off) is offered only while it is on
    define_flags = DEFINE_VALIDATE if validate else 0
    edit = True
    while True:
        if edit:
            run_editor(path)
            with open(path) as f:
                edited = f.read()
            if edited == original:
                ctl.info(f"Domain '{name}' XML configuration not changed.")
                return
        try:
            dom = ctl.conn.defineXMLFlags(edited, define_flags)
        except VirtError as e:
            answer = ask_reedit("Failed.", relax, e)
            if answer == "n":
                raise VirshError() from e
            if answer == "":
                raise VirshError("Failed.", e.get_error_message()) from e
            edit = answer == "y"
            if answer == "i":
                relax, define_flags = False, 0
            continue
        ctl.info(f"Domain '{dom.name()}' XML configuration edited.")
        return
