"""`help`, `help GROUP`, `help COMMAND` in virsh's layout, and the shell's own commands."""

from __future__ import annotations

from typing import Any

from pyvirt.virsh.commands import COMMANDS, GROUPS, Command, Group, Kind, Opt, command, group
from pyvirt.virsh.context import Ctl
from pyvirt.virsh.errors import VirshError

VIRSH = group("virsh", "Virsh itself")


def group_text(grp: Group) -> str:
    lines = [f" {grp.name} (help keyword '{grp.keyword}'):"]
    lines += [f"    {c.name:<30} {c.summary}" for c in sorted(grp.commands, key=lambda c: c.name)]
    return "\n".join(lines) + "\n"


def command_text(cmd: Command) -> str:
    text = f"  NAME\n    {cmd.name} - {cmd.summary}\n\n  SYNOPSIS\n    {cmd.synopsis()}\n\n"
    if cmd.description:
        text += f"  DESCRIPTION\n    {cmd.description}\n\n"
    if cmd.opts:
        text += "  OPTIONS\n"
        text += "".join(f"    {o.label():<15}  {o.help}\n" for o in cmd.opts)
        text += "\n"
    return text


@command(
    "help",
    VIRSH,
    "print help",
    "Prints global help, command specific help, or help for a\n    group of related commands",
    Opt(
        "command",
        Kind.DATA,
        "Prints global help, command specific help, or help for a group of related commands",
    ),
)
def cmd_help(ctl: Ctl, o: dict[str, Any]) -> None:
    name = o["command"]
    if name is None:
        ctl.print("Grouped commands:\n")
        for grp in GROUPS.values():
            ctl.print(group_text(grp))
    elif name in COMMANDS:
        ctl.out.write(command_text(COMMANDS[name]))
    elif name in GROUPS:
        ctl.print(group_text(GROUPS[name]))
    else:
        raise VirshError(f"command or command group '{name}' doesn't exist")


class Quit(Exception):
    """`quit` or `exit` in the interactive shell."""


def cmd_quit(ctl: Ctl, o: dict[str, Any]) -> None:
    raise Quit


for _name in ("quit", "exit"):
    command(_name, VIRSH, "quit this interactive terminal", "")(cmd_quit)
