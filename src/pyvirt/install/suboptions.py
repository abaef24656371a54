"""virt-install's sub-option syntax: `--disk path=/x.img,size=8,bus=virtio`, where a leading
bare value names the option's main key (`--network user`, `--disk /x.img`), and a value with
commas is double-quoted (`kernel_args="clearcpuid=a,b"`)."""

from __future__ import annotations

from pyvirt.install.errors import InstallError


def split(text: str) -> list[str]:
    """Items separated by commas outside double quotes: `kernel_args="a=1,2",initrd=/i`."""
    items, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append(current)
            current = ""
        else:
            current += char
    return [*items, current]


def parse(option: str, text: str, main_key: str, known: set[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for n, item in enumerate(split(text)):
        key, eq, value = item.partition("=")
        if not eq:
            if n == 0:
                key, value = main_key, item
            else:
                raise InstallError(f"--{option}: expected key=value, got '{item}'")
        if key not in known:
            raise InstallError(f"Unknown --{option} options: ['{key}']")
        values[key] = value
    return values


def number(option: str, key: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise InstallError(f"--{option}: {key}={value} is not a number") from None
