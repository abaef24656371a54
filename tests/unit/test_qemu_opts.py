"""QEMU's key=value option syntax (util/qemu-option.c): ",," escapes a comma, the first
item may be an implied key's value, bare flags and their "no" forms, sizes, numbers."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pyvirt.vmm.errors import OptionError
from pyvirt.vmm.qemu_opts import (
    check_keys,
    parse_bool,
    parse_int,
    parse_opts,
    parse_size,
    split_commas,
)


@pytest.mark.parametrize(
    ("text", "items"),
    [("", [""]), ("a", ["a"]), ("a,b", ["a", "b"]), ("a,,b", ["a,b"]), ("a,,,b", ["a,", "b"]),
     ("a,,,,b", ["a,,b"]), ("a,", ["a", ""]), (",a", ["", "a"]), ("a,,", ["a,"])],
)  # fmt: skip
def test_split_commas(text: str, items: list[str]) -> None:
    assert split_commas(text) == items


def escape(value: str) -> str:
    return value.replace(",", ",,")


@given(st.lists(st.text(alphabet=",=ab ", max_size=6), min_size=1, max_size=5))
def test_split_commas_undoes_escaping(items: list[str]) -> None:
    # Two separators in a row read as an escaped comma, so an item after the first cannot
    # start with a comma and one in the middle cannot be empty (QEMU reads ",,," as ","
    # then a separator); every other list round-trips.
    assume(not any(item.startswith(",") for item in items[1:]))
    assume(all(items[1:-1]))
    assert split_commas(",".join(escape(i) for i in items)) == items


def test_parse_opts_basic() -> None:
    assert parse_opts("-x", "socket,id=s0,path=/tmp/a,,b", "backend") == {
        "backend": "socket", "id": "s0", "path": "/tmp/a,b"}  # fmt: skip


def test_values_keep_everything_after_the_first_equals() -> None:
    assert parse_opts("-x", "append=a=b c=d", None) == {"append": "a=b c=d"}


def test_implied_key_only_for_the_first_item() -> None:
    assert parse_opts("-x", "512", "size") == {"size": "512"}
    assert parse_opts("-x", "size=512", "size") == {"size": "512"}
    with pytest.raises(OptionError, match="invalid parameter 'b'"):
        parse_opts("-x", "a,b", "first")


def test_implied_value_with_an_escaped_comma_before_an_equals_sign() -> None:
    # QEMU decides "implied or key=value" by whichever of "=" or "," comes first in the
    # text: in "a,,b=c" the comma comes first, so the whole item is the implied value.
    assert parse_opts("-x", "/tmp/my,,dir=1/s.sock,server", "path", flags=frozenset(
        {"server"})) == {"path": "/tmp/my,dir=1/s.sock", "server": "on"}  # fmt: skip


def test_flags() -> None:
    flags = frozenset({"server", "wait"})
    assert parse_opts("-x", "p,server,nowait", "path", flags=flags) == {
        "path": "p", "server": "on", "wait": "off"}  # fmt: skip
    assert parse_opts("-x", "p,noserver", "path", flags=flags) == {"path": "p", "server": "off"}
    with pytest.raises(OptionError, match="invalid parameter 'nodelay'"):
        parse_opts("-x", "p,nodelay", "path", flags=flags)


def test_empty_items_after_the_first_are_skipped() -> None:
    assert parse_opts("-x", "a=1,,", None) == {"a": "1,"}
    assert parse_opts("-x", "a=1,", None) == {"a": "1"}


def test_duplicate_keys() -> None:
    with pytest.raises(OptionError) as info:
        parse_opts("-x", "id=a,id=b", None)
    assert str(info.value) == "-x: parameter 'id' given twice"


def test_check_keys() -> None:
    check_keys("-x", {"a": "1"}, {"a", "b"})
    with pytest.raises(OptionError) as info:
        check_keys("-x", {"a": "1", "c": "2"}, {"a", "b"})
    assert str(info.value) == "-x: unsupported parameter 'c'"


keys = st.text(alphabet="abcdefgh-", min_size=1, max_size=6).filter(
    lambda k: not k.startswith("no")
)
values = st.text(alphabet=st.sampled_from("ab,= /:."), max_size=8)


@given(st.dictionaries(keys, values, min_size=1, max_size=4), values)
def test_parse_opts_round_trips_escaped_values(opts: dict[str, str], implied: str) -> None:
    # What a management tool writes (key=value with commas doubled) reads back as is.
    text = ",".join(f"{k}={escape(v)}" for k, v in opts.items())
    assert parse_opts("-x", text, None) == opts
    # ... and with an implied first value, unless that value could be read as "key=..."
    # (an "=" before any comma), which QEMU would read that way too.
    first_eq, first_comma = implied.find("="), implied.find(",")
    assume(first_eq < 0 or 0 <= first_comma < first_eq)
    assume(implied and not implied.startswith(","))
    assume("implied" not in opts)
    assert parse_opts("-x", f"{escape(implied)},{text}", "implied") == {"implied": implied, **opts}


# --- values --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["on", "yes", "true", "y", "ON", "True"])
def test_bool_true(value: str) -> None:
    assert parse_bool("-x", "k", value) is True


@pytest.mark.parametrize("value", ["off", "no", "false", "n", "OFF"])
def test_bool_false(value: str) -> None:
    assert parse_bool("-x", "k", value) is False


def test_bool_invalid() -> None:
    with pytest.raises(OptionError) as info:
        parse_bool("-x", "wait", "sometimes")
    assert str(info.value) == "-x: parameter 'wait' expects 'on' or 'off', not 'sometimes'"


@pytest.mark.parametrize(
    ("text", "size"),
    [("0", 0), ("1", 1), ("1k", 1024), ("1K", 1024), ("2M", 2 << 20), ("3G", 3 << 30),
     ("1T", 1 << 40), ("1P", 1 << 50), ("1E", 1 << 60), ("1.5k", 1536), ("0.5M", 1 << 19),
     ("512B", 512), (" 4k ", 4096)],
)  # fmt: skip
def test_sizes(text: str, size: int) -> None:
    assert parse_size("-x", text) == size


def test_default_suffix() -> None:
    assert parse_size("-m", "64", default_suffix="m") == 64 << 20
    assert parse_size("-m", "64k", default_suffix="m") == 64 << 10


@pytest.mark.parametrize("text", ["", "k", "-1", "1X", "1 k k", "1.5", "1e3", "16E"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_size("-x", text)
    assert f"'{text}'" in str(info.value)


@pytest.mark.parametrize(("text", "value"), [("10", 10), ("0x1f", 31), ("0o17", 15), ("-3", -3)])
def test_int(text: str, value: int) -> None:
    assert parse_int("-x", "k", text) == value


@pytest.mark.parametrize("text", ["", "ten", "1.0", "0xg"])
def test_bad_int(text: str) -> None:
    with pytest.raises(OptionError, match=f"parameter 'k' expects a number, not '{text}'"):
        parse_int("-x", "k", text)
