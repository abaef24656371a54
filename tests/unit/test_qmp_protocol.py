"""The QMP wire protocol without a VM: JSON framing, negotiation, request checking."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyvirt.vmm.qmp.errors import QmpError
from pyvirt.vmm.qmp.json_stream import MAX_NESTING, JsonStream, ParseError
from pyvirt.vmm.qmp.protocol import Command, Session, event, greeting
from pyvirt.vmm.qmp.schema import Param


def feed(*chunks: bytes) -> list[object]:
    stream = JsonStream()
    return [value for chunk in chunks for value in stream.feed(chunk)]


def test_values_are_split_on_their_braces_not_lines() -> None:
    assert feed(b'{"a": [1, {"b": "}"}]}{"c"', b': "\\"x"}\n  [2]') == [
        {"a": [1, {"b": "}"}]},
        {"c": '"x'},
        [2],
    ]


def test_garbage_is_reported_and_the_stream_recovers() -> None:
    out = feed(b'}}{"s": "line\nbreak"}\n{"ok": 1}')
    assert out[:2] == [ParseError("expecting value")] * 2
    assert isinstance(out[2], ParseError) and out[2].desc.startswith("stray")
    assert out[-1] == {"ok": 1}
    assert isinstance(feed(b"{nonsense}")[0], ParseError)
    deep = feed(b"[" * (MAX_NESTING + 1) + b'{"after": true}')
    assert deep[0] == ParseError("nesting too deep")


@given(st.binary(max_size=300))
def test_any_bytes_never_raise(data: bytes) -> None:
    feed(data, b'{"end": 1}')


def run(coro):
    return asyncio.run(coro)


async def echo(args: dict) -> object:
    return args


COMMANDS = {"echo": Command("echo", echo, (Param("text", "string"),
                                            Param("n", "integer", required=False)))}  # fmt: skip


def test_negotiation_then_commands() -> None:
    session = Session(COMMANDS)
    early = run(session.handle({"execute": "echo", "arguments": {"text": "x"}, "id": 3}))
    assert early == {"id": 3, "error": {"class": "CommandNotFound", "desc":
                     "Expecting capabilities negotiation with 'qmp_capabilities'"}}  # fmt: skip
    assert run(session.handle({"execute": "qmp_capabilities",
                               "arguments": {"enable": ["oob"]}})) == {"return": {}}  # fmt: skip
    assert session.oob
    reply = run(session.handle({"execute": "echo", "arguments": {"text": "x"}, "id": [1]}))
    assert reply == {"return": {"text": "x"}, "id": [1]}
    again = run(session.handle({"execute": "qmp_capabilities"}))
    assert again["error"]["class"] == "CommandNotFound"


@pytest.mark.parametrize(
    ("request_", "desc"),
    [
        ("text", "QMP input must be a JSON object"),
        ({"arguments": {}}, "QMP input lacks member 'execute'"),
        ({"execute": 1}, "QMP input member 'execute' must be a string"),
        ({"execute": "echo", "arguments": []}, "QMP input member 'arguments' must be an object"),
        ({"execute": "echo", "extra": 1}, "QMP input member 'extra' is unexpected"),
        ({"execute": "echo"}, "Parameter 'text' is missing"),
        ({"execute": "echo", "arguments": {"text": 1}},
         "Invalid parameter type for 'text', expected: string"),
        ({"execute": "echo", "arguments": {"text": "", "n": True}},
         "Invalid parameter type for 'n', expected: integer"),
        ({"execute": "echo", "arguments": {"text": "", "x": 0}}, "Parameter 'x' is unexpected"),
        ({"exec-oob": "echo", "arguments": {"text": ""}}, "The command echo does not support OOB"),
    ],
)  # fmt: skip
def test_bad_requests_get_qemus_words(request_: object, desc: str) -> None:
    session = Session(COMMANDS)
    run(session.handle({"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}))
    assert run(session.handle(request_)) == {"error": {"class": "GenericError", "desc": desc}}


def test_a_failing_command_is_an_error_reply() -> None:
    async def broken(args: dict) -> object:
        raise RuntimeError("bug")

    async def refusing(args: dict) -> object:
        raise QmpError("no", "DeviceNotFound")

    session = Session({"broken": Command("broken", broken),
                       "refusing": Command("refusing", refusing)})  # fmt: skip
    run(session.handle({"execute": "qmp_capabilities"}))
    assert run(session.handle({"execute": "broken"}))["error"]["desc"] == "internal error: bug"
    assert run(session.handle({"execute": "refusing"})) == {
        "error": {"class": "DeviceNotFound", "desc": "no"}}  # fmt: skip


def test_greeting_and_event_shapes() -> None:
    version = {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "p"}
    assert greeting(version) == {"QMP": {"version": version, "capabilities": ["oob"]}}
    message = event("STOP")
    assert set(message) == {"timestamp", "event"} and message["event"] == "STOP"
    assert 0 <= message["timestamp"]["microseconds"] < 1_000_000
    assert event("X", {"a": 1})["data"] == {"a": 1}
