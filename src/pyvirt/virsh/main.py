"""pyvirsh: virsh's global options, one command from the command line (or a `;`-separated
command string), or the interactive shell when no command is given."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

from pyvirt.virsh import (  # noqa: F401
    console,
    domain,
    edit,
    events,
    help,
    host,
    lifecycle,
    snapshot,
    stats,
    storage,
)
from pyvirt.virsh.commands import Command, lookup, parse_args
from pyvirt.virsh.context import Ctl
from pyvirt.virsh.errors import VirshError, report
from pyvirt.virsh.help import Quit

DEFAULT_URI = "pyvirt:///session"

USAGE = """
pyvirsh [options]... [<command_string>]
pyvirsh [options]... <command> [args...]

  options:
    -c | --connect=URI      hypervisor connection URI
    -d | --debug=NUM        debug level [0-4]
    -e | --escape <char>    set escape sequence for console
    -h | --help             this help
    -q | --quiet            quiet mode
    -r | --readonly         connect readonly
    -v | --version          short version

  commands (non interactive mode):
  (see 'pyvirsh help' for the list)
"""


def parse(ctl: Ctl, words: Sequence[str]) -> tuple[Command, dict[str, Any]]:
    try:
        cmd = lookup(words[0])
        return cmd, parse_args(cmd, words[1:])
    except VirshError as e:
        report(e)
        if e.usage and words[0] in help.COMMANDS:  # beyond virsh: the synopsis too
            print(f"usage: {help.COMMANDS[words[0]].synopsis()}", file=sys.stderr)
        raise


def execute(ctl: Ctl, cmd: Command, opts: dict[str, Any]) -> bool:
    """One parsed command; False when it failed (after saying why on stderr)."""
    ok = True
    try:
        cmd.handler(ctl, opts)
    except VirshError as e:
        report(e)
        ok = False
    if not ctl.quiet:
        ctl.out.write("\n")
    ctl.out.flush()
    return ok


def run(ctl: Ctl, words: Sequence[str]) -> bool:
    try:
        cmd, opts = parse(ctl, words)
    except VirshError:
        return False
    return execute(ctl, cmd, opts)


def split_commands(line: str) -> list[list[str]]:
    """A command string: words as a shell splits them, commands separated by `;`."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token == ";":
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def run_line(ctl: Ctl, line: str) -> bool:
    try:
        commands = split_commands(line)
    except ValueError as e:
        report(VirshError(f"failed to parse command: {e}"))
        return False
    try:  # a mistake anywhere in the line runs none of it, as in virsh
        parsed = [parse(ctl, words) for words in commands]
    except VirshError:
        return False
    ok = True
    for cmd, opts in parsed:
        ok = execute(ctl, cmd, opts)  # the last command's status is the line's
    return ok


def default_uri() -> str:
    return (
        os.environ.get("VIRSH_DEFAULT_CONNECT_URI")
        or os.environ.get("LIBVIRT_DEFAULT_URI")
        or DEFAULT_URI
    )


def parse_global(argv: list[str]) -> tuple[dict[str, str | bool], list[str]]:
    """virsh's options before the command: -c URI, -r, -q, -d N, -e CHAR (also --long=value)."""
    with_value = {
        "-c": "connect",
        "--connect": "connect",
        "-d": "debug",
        "--debug": "debug",
        "-e": "escape",
        "--escape": "escape",
    }
    flags = {
        "-r": "readonly",
        "--readonly": "readonly",
        "-q": "quiet",
        "--quiet": "quiet",
        "-h": "help",
        "--help": "help",
        "-v": "version",
        "--version": "version",
    }
    opts: dict[str, str | bool] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        i += 1
        name, eq, value = arg.partition("=")
        if name in with_value:
            if not eq and (name.startswith("--") or len(arg) == 2):
                if i >= len(argv):
                    raise VirshError(f"option '{arg}' requires an argument. See --help.")
                value = argv[i]
                i += 1
            opts[with_value[name]] = value
        elif arg[:2] in with_value and not arg.startswith("--"):
            opts[with_value[arg[:2]]] = arg[2:]
        elif arg in flags:
            opts[flags[arg]] = True
        elif arg == "--":
            break
        else:
            raise VirshError(f"unsupported option '{arg}'. See --help.")
    return opts, argv[i:]


def escape_char(text: str) -> bytes:
    """-e '^]': a control character as virsh spells it."""
    if len(text) == 2 and text[0] == "^" and "@" <= text[1].upper() <= "_":
        return bytes([ord(text[1].upper()) - 64])
    raise VirshError(f"Invalid string '{text}' for escape sequence")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        opts, rest = parse_global(list(sys.argv[1:] if argv is None else argv))
        escape = escape_char(str(opts.get("escape", "^]")))
        debug = int(str(opts.get("debug", 4)))
    except ValueError:
        report(VirshError("option -d takes a number. See --help."))
        return 1
    except VirshError as e:
        report(e)
        return 1
    if opts.get("help"):
        print(USAGE)
        return 0
    if opts.get("version"):
        print(version("pyvirt"))
        return 0
    ctl = Ctl(
        str(opts.get("connect") or default_uri()),
        readonly=bool(opts.get("readonly")),
        quiet=bool(opts.get("quiet")),
        debug=debug,
        escape=escape,
    )
    try:
        if not rest:
            from pyvirt.virsh.shell import interactive  # prompt_toolkit: only for the shell

            return interactive(ctl)
        if len(rest) == 1:
            return 0 if run_line(ctl, rest[0]) else 1
        return 0 if run(ctl, rest) else 1
    except Quit:
        return 0
    except KeyboardInterrupt:
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1
    finally:
        ctl.close()


if __name__ == "__main__":
    sys.exit(main())
