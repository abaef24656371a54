"""GNU getopt_long-style parsing with qemu-img's error messages.

Options and operands may be mixed, `--` ends the options, long options take
`--name=value` or `--name value`, short ones `-fvalue` or `-f value`.
"""

from __future__ import annotations

from .errors import ImgError, usage_error


def parse(
    argv: list[str], short: str, long: dict[str, str | None] | None = None
) -> tuple[list[tuple[str, str]], list[str]]:
    """Split `argv` into ([(option, value)], operands).

    `short` is a getopt string ("f:hq"); `long` maps a long name to the short
    letter (or a name of its own) it stands for, with a trailing ':' when it
    takes an argument ("output:" -> "--output"). Options are returned under
    their short letter or their long name ("--output").
    """
    takes = {c: short[i + 1 : i + 2] == ":" for i, c in enumerate(short) if c != ":"}
    longs: dict[str, tuple[str, bool]] = {}
    for spec, key in (long or {}).items():
        name = spec.rstrip(":")
        longs[name] = (key or f"--{name}", spec.endswith(":"))
    opts: list[tuple[str, str]] = []
    operands: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            operands += argv[i:]
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name not in longs:
                raise usage_error(f"unrecognized option '{arg}'")
            key, has_arg = longs[name]
            if has_arg and not eq:
                if i == len(argv):
                    raise usage_error(f"missing argument for option '{arg}'")
                value = argv[i]
                i += 1
            elif not has_arg and eq:
                raise usage_error(f"unrecognized option '{arg}'")
            opts.append((key, value))
        elif arg.startswith("-") and arg != "-":
            j = 1
            while j < len(arg):
                c = arg[j]
                j += 1
                if c not in takes:
                    raise usage_error(f"unrecognized option '{arg}'")
                if not takes[c]:
                    opts.append((c, ""))
                    continue
                if j < len(arg):
                    opts.append((c, arg[j:]))
                elif i < len(argv):
                    opts.append((c, argv[i]))
                    i += 1
                else:
                    raise usage_error(f"missing argument for option '{arg}'")
                break
        else:
            operands.append(arg)
    return opts, operands


def output_format(value: str) -> str:
    if value not in ("human", "json"):
        raise ImgError("--output must be used with human or json as argument.")
    return value


def one_file(operands: list[str]) -> str:
    if len(operands) != 1:
        raise usage_error("Expecting one image file name")
    return operands[0]
