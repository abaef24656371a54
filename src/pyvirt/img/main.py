"""pyvirt-img COMMAND [options]: dispatch to the commands, report failures as qemu-img does."""

from __future__ import annotations

import sys
from collections.abc import Callable

from . import check, commit, compare, convert, create, info, map, rebase, resize, snapshot
from .errors import PROGRAM, ImgError, render, usage_error

COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "check": check.run,
    "commit": commit.run,
    "compare": compare.run,
    "convert": convert.run,
    "create": create.run,
    "info": info.run,
    "map": map.run,
    "rebase": rebase.run,
    "resize": resize.run,
    "snapshot": snapshot.run,
}

HELP = f"""usage: {PROGRAM} [standard options] command [command options]
A qemu-img compatible disk image tool (pyvirt).

Commands: {", ".join(COMMANDS)}
Each takes qemu-img's options; see qemu-img(1).
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        if not args:
            raise usage_error("Not enough arguments")
        if args[0] in ("-h", "--help"):
            sys.stdout.write(HELP)
            return 0
        if args[0] in ("-V", "--version"):
            print(f"{PROGRAM} version 0.1.0 (qemu-img 7.2 compatible)")
            return 0
        command = COMMANDS.get(args[0])
        if command is None:
            raise usage_error(f"Command not found: {args[0]}")
        status = command(args[1:])
        sys.stdout.flush()
        return status
    except ImgError as e:
        sys.stdout.flush()
        sys.stderr.write(render(e))
        return e.status
    except BrokenPipeError:
        return 1
