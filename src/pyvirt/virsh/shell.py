"""The interactive shell: `virsh # ` prompt, history, completion of commands, options and
domain/pool names; Ctrl-D or quit leaves."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory

from pyvirt.virsh.commands import COMMANDS, Command, Kind
from pyvirt.virsh.context import Ctl
from pyvirt.virsh.errors import VirshError, report
from pyvirt.virsh.help import Quit
from pyvirt.virsh.main import run_line
from pyvirt.virterror import VirtError

WELCOME = """Welcome to virsh, the virtualization interactive terminal.

Type:  'help' for help with commands
       'quit' to quit
"""


class VirshCompleter(Completer):
    def __init__(self, ctl: Ctl) -> None:
        self.ctl = ctl

    def names(self, kind: str) -> list[str]:
        try:
            if kind == "domain":
                return [d.name() for d in self.ctl.conn.listAllDomains(0)]
            if kind == "pool":
                return [p.name() for p in self.ctl.conn.listAllStoragePools(0)]
        except (VirtError, VirshError, OSError):
            pass
        return []

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor.rsplit(";", 1)[-1]
        words = text.split()
        word = "" if not words or text.endswith(" ") else words[-1]
        done = words if word == "" else words[:-1]
        if not done:
            candidates = sorted(COMMANDS)
        else:
            cmd = COMMANDS.get(done[0])
            if cmd is None:
                return
            candidates = self.for_command(cmd, done[1:], word)
        for candidate in candidates:
            if candidate.startswith(word):
                yield Completion(candidate, start_position=-len(word))

    def for_command(self, cmd: Command, given: list[str], word: str) -> list[str]:
        """Options not given yet, and names for the value the cursor is at."""
        previous = cmd.opt(given[-1][2:]) if given and given[-1].startswith("--") else None
        if previous is not None and previous.kind is not Kind.BOOL:
            return self.names(previous.completer) if previous.completer else []
        named = {w[2:] for w in given if w.startswith("--")}
        options = [f"--{o.name}" for o in cmd.opts if o.name not in named]
        if word.startswith("-"):
            return options
        positional = [w for w in given if not w.startswith("--")]
        slots = [o for o in cmd.opts if o.kind is not Kind.BOOL and o.name not in named]
        slot = slots[len(positional)] if len(positional) < len(slots) else None
        values = self.names(slot.completer) if slot is not None and slot.completer else []
        return values + options


def history_file() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pyvirsh"
    cache.mkdir(parents=True, exist_ok=True)
    return cache / "history"


def interactive(ctl: Ctl) -> int:
    ctl.interactive = True
    if not ctl.quiet:
        print(WELCOME)
    try:
        ctl.conn  # noqa: B018 - connect now, as virsh does, to report a bad URI at once
    except VirshError as e:
        report(e)
    prompt = "virsh > " if ctl.readonly else "virsh # "
    # prompt_toolkit asks the terminal for the cursor position (CPR) only to size menus from
    # the bottom, and warns on terminals that do not answer; we do not need it.
    os.environ.setdefault("PROMPT_TOOLKIT_NO_CPR", "1")
    if not sys.stdin.isatty():
        return read_lines(ctl, prompt)
    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(history_file())),
        completer=VirshCompleter(ctl),
        complete_while_typing=False,
    )
    while True:
        try:
            line = session.prompt(prompt)
        except KeyboardInterrupt:
            continue
        except EOFError:
            print()
            return 0
        try:
            run_line(ctl, line)
        except Quit:
            return 0


def read_lines(ctl: Ctl, prompt: str) -> int:
    """Commands from a pipe: no line editing, the prompt still printed as virsh does."""
    for line in sys.stdin:
        sys.stdout.write(prompt)
        try:
            run_line(ctl, line)
        except Quit:
            return 0
    return 0
