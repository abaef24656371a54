"""The command table: commands, their options, and virsh's rules for parsing them.

Option kinds are virsh's: a BOOL is a flag, STRING/INT take a value, DATA is a
value usually given by position. Every non-BOOL option can be given by
position, filling the options not yet named in table order (virsh does the
same), unless `named_only`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from pyvirt.virsh.errors import VirshError

if TYPE_CHECKING:
    from pyvirt.virsh.context import Ctl


class Kind(Enum):
    BOOL = "bool"
    STRING = "string"
    INT = "number"
    DATA = "data"
    SCALED = "scaled"  # a number with an optional unit suffix ("32M"), kept as text


def shown(kind: Kind) -> str:
    """How help names a value of this kind."""
    return "number" if kind in (Kind.INT, Kind.SCALED) else kind.value


@dataclass(frozen=True)
class Opt:
    name: str
    kind: Kind
    help: str
    required: bool = False
    named_only: bool = False  # never filled by position
    completer: str | None = None  # "domain", "pool": what the shell completes it with

    def synopsis(self) -> str:
        if self.kind is Kind.BOOL:
            return f"[--{self.name}]"
        if self.kind is Kind.DATA or (self.kind in (Kind.INT, Kind.SCALED) and self.required):
            return f"<{self.name}>" if self.required else f"[<{self.name}>]"
        return f"[--{self.name} <{shown(self.kind)}>]"

    def label(self) -> str:
        """How OPTIONS in `help COMMAND` names it."""
        if self.kind is Kind.BOOL:
            return f"--{self.name}"
        if self.kind is Kind.DATA:
            return f"[--{self.name}] <string>"
        if self.kind in (Kind.INT, Kind.SCALED) and self.required:
            return f"[--{self.name}] <number>"
        return f"--{self.name} <{shown(self.kind)}>"


Handler = Callable[["Ctl", dict[str, Any]], None]


@dataclass(frozen=True)
class Command:
    name: str
    group: str
    summary: str
    description: str
    opts: tuple[Opt, ...]
    handler: Handler
    json: bool = False  # accepts --json (beyond virsh)

    def synopsis(self) -> str:
        return " ".join([self.name, *(o.synopsis() for o in self.opts)])

    def opt(self, name: str) -> Opt | None:
        return next((o for o in self.opts if o.name == name), None)


@dataclass
class Group:
    name: str
    keyword: str
    commands: list[Command] = field(default_factory=list)


GROUPS: dict[str, Group] = {}
COMMANDS: dict[str, Command] = {}

JSON_OPT = Opt("json", Kind.BOOL, "print JSON for scripts (pyvirsh)")


def group(keyword: str, name: str) -> Group:
    return GROUPS.setdefault(keyword, Group(name, keyword))


def command(
    name: str,
    grp: Group,
    summary: str,
    description: str,
    *opts: Opt,
    json: bool = False,
) -> Callable[[Handler], Handler]:
    """Register a handler as command `name` in group `grp`."""

    def register(fn: Handler) -> Handler:
        all_opts = (*opts, JSON_OPT) if json else opts
        cmd = Command(name, grp.keyword, summary, description, all_opts, fn, json)
        COMMANDS[name] = cmd
        grp.commands.append(cmd)
        return fn

    return register


def domain_opt(help: str = "domain name, id or uuid") -> Opt:
    return Opt("domain", Kind.DATA, help, required=True, completer="domain")


def flag(name: str, help: str) -> Opt:
    return Opt(name, Kind.BOOL, help)


def parse_args(cmd: Command, args: Iterable[str]) -> dict[str, Any]:
    """virsh's parsing: `--name value`, `--name=value`, positional data, `--` ends options."""
    values: dict[str, Any] = {o.name: False for o in cmd.opts if o.kind is Kind.BOOL}
    named: set[str] = set()
    positional = [o for o in cmd.opts if o.kind is not Kind.BOOL and not o.named_only]
    items = list(args)
    only_data = False
    i = 0
    while i < len(items):
        arg = items[i]
        i += 1
        if not only_data and arg == "--":
            only_data = True
            continue
        if not only_data and arg.startswith("--"):
            name, eq, inline = arg[2:].partition("=")
            opt = cmd.opt(name)
            if opt is None:
                raise VirshError(
                    f"command '{cmd.name}' doesn't support option --{name}", usage=True
                )
            if name in named:
                raise VirshError(f"option --{name} already seen", usage=True)
            named.add(name)
            if opt.kind is Kind.BOOL:
                if eq:
                    raise VirshError(f"invalid '=' after option --{name}", usage=True)
                values[name] = True
                continue
            if eq:
                values[name] = inline
            elif i < len(items):
                values[name] = items[i]
                i += 1
            else:
                raise VirshError(f"expected syntax: --{name} <{shown(opt.kind)}>", usage=True)
            continue
        slot = next((o for o in positional if o.name not in named), None)
        if slot is None:
            raise VirshError(f"unexpected data '{arg}'", usage=True)
        named.add(slot.name)
        values[slot.name] = arg
    for opt in cmd.opts:
        if opt.required and opt.name not in named:
            raise VirshError(f"command '{cmd.name}' requires <{opt.name}> option", usage=True)
        if opt.kind is Kind.INT and opt.name in named:
            values[opt.name] = parse_int(opt.name, values[opt.name])
        values.setdefault(opt.name, None)
    return values


def parse_int(name: str, text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise VirshError(
            f"Numeric value '{text}' for <{name}> option is malformed or out of range"
        ) from None


def lookup(name: str) -> Command:
    cmd = COMMANDS.get(name)
    if cmd is None:
        raise VirshError(f"unknown command: '{name}'", usage=True)
    return cmd
