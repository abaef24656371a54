"""The qemu-system-x86_64 command line subset: every option parsed as QEMU would, and
every bad input an OptionError that names the option and what was wrong with it."""

from __future__ import annotations

import pytest

from pyvirt.vmm.errors import OptionError
from pyvirt.vmm.options import (
    RISCV64,
    ChardevSpec,
    DebugExitSpec,
    VmmConfig,
    parse_args,
    tokenize,
)

MiB, GiB = 1 << 20, 1 << 30


def parse(line: str) -> VmmConfig:
    return parse_args(line.split())


# --- tokenizing ------------------------------------------------------------------------------


def test_tokenize() -> None:
    assert tokenize(["-m", "512", "--smp", "2", "-nographic", "-append", "a b,c"]) == [
        ("m", "512"), ("smp", "2"), ("nographic", None), ("append", "a b,c")]  # fmt: skip


def test_double_dash_options() -> None:
    assert parse("--m 256 --nographic").ram_size == 256 * MiB


def test_values_are_taken_verbatim() -> None:
    cfg = parse_args(["-kernel", "/k,x", "-initrd", "/i", "-append", "console=ttyS0,115200 quiet",
                      "-bios", "/b.bin", "-pidfile", "/run/p", "-name", "vm1"])  # fmt: skip
    assert (cfg.kernel, cfg.initrd, cfg.append, cfg.bios, cfg.pidfile, cfg.name) == (
        "/k,x", "/i", "console=ttyS0,115200 quiet", "/b.bin", "/run/p", "vm1")  # fmt: skip


def test_defaults() -> None:
    cfg = parse_args([])
    assert (cfg.ram_size, cfg.cpus, cfg.machine, cfg.accel) == (128 * MiB, 1, "pc", "kvm")
    assert cfg.cpu.model == "host"
    assert (cfg.nographic, cfg.nodefaults, cfg.no_reboot, cfg.action) == (False, False, False,
                                                                          "run")  # fmt: skip
    # QEMU's default serial port goes to a graphical console: here, nowhere.
    assert cfg.serials == ["serial0"]
    assert cfg.chardevs == {"serial0": ChardevSpec("serial0", "null")}
    assert cfg.debug_exits == []


@pytest.mark.parametrize(("flag", "action"), [("-version", "version"), ("-h", "help"),
                                              ("-help", "help"), ("--help", "help")])  # fmt: skip
def test_informational_flags(flag: str, action: str) -> None:
    assert parse(f"-m 64 {flag} -smp 2").action == action


@pytest.mark.parametrize(
    ("line", "action"),
    [("-machine help", "machine-help"), ("-M help", "machine-help"), ("-cpu help", "cpu-help"),
     ("-device help", "device-help"), ("-display help", "display-help")],
)  # fmt: skip
def test_help_listings(line: str, action: str) -> None:
    assert parse(line).action == action


# --- -m -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size"),
    [("512", 512 * MiB), ("512M", 512 * MiB), ("512m", 512 * MiB), ("1G", GiB), ("1g", GiB),
     ("2048M", 2 * GiB), ("1.5G", 3 * GiB // 2), ("262144k", 256 * MiB), ("262144K", 256 * MiB),
     ("size=256M", 256 * MiB), ("size=64", 64 * MiB), ("1T", 1 << 40), ("2M", 2 * MiB),
     ("4194304B", 4 * MiB), ("0.5G", 512 * MiB), (".25G", 256 * MiB)],
)  # fmt: skip
def test_memory_sizes(value: str, size: int) -> None:
    assert parse(f"-m {value}").ram_size == size


def test_memory_is_rounded_up_to_pages() -> None:
    assert parse("-m 4194305B").ram_size == 4 * MiB + 4096


# --- -smp --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cpus"),
    [("1", 1), ("4", 4), ("cpus=4", 4), ("4,cores=4", 4), ("cores=2", 2), ("4,maxcpus=4", 4),
     ("2,sockets=1,cores=2,threads=1", 2), ("sockets=1,cores=3", 3), ("8,dies=1,clusters=1", 8)],
)  # fmt: skip
def test_smp(value: str, cpus: int) -> None:
    assert parse(f"-smp {value}").cpus == cpus


# --- machine, accelerator, cpu, display, name, device -------------------------------------------


@pytest.mark.parametrize("line", ["-machine pc", "-machine pc,accel=kvm", "-machine type=pc",
                                  "-M pc", "-machine accel=kvm", "-accel kvm", "-accel accel=kvm",
                                  "-enable-kvm"])  # fmt: skip
def test_machine_and_accelerator(line: str) -> None:
    cfg = parse(line)
    assert (cfg.machine, cfg.accel) == ("pc", "kvm")


def test_cpu() -> None:
    cpu = parse("-cpu host,-xsave,+x2apic").cpu
    assert (cpu.model, cpu.enable, cpu.disable) == ("host", {"x2apic"}, {"xsave"})


def test_display_none() -> None:
    assert parse("-display none").display == "none"


@pytest.mark.parametrize(("value", "name", "threads"),
                         [("vm1", "vm1", False), ("guest=vm2,debug-threads=on", "vm2", True),
                          ("vm3,process=qemu-vm3", "vm3", False)])  # fmt: skip
def test_name(value: str, name: str, threads: bool) -> None:
    cfg = parse(f"-name {value}")
    assert (cfg.name, cfg.debug_threads) == (name, threads)


def test_isa_debug_exit() -> None:
    cfg = parse("-device isa-debug-exit -device isa-debug-exit,iobase=0xf4,iosize=0x04 "
                "-device driver=isa-debug-exit,iobase=0x80,iosize=1")  # fmt: skip
    assert cfg.debug_exits == [DebugExitSpec(0x501, 2), DebugExitSpec(0xF4, 4),
                               DebugExitSpec(0x80, 1)]  # fmt: skip


def test_flags() -> None:
    cfg = parse("-no-reboot -nodefaults")
    assert cfg.no_reboot and cfg.nodefaults


# --- serial ports and chardevs ----------------------------------------------------------------


def serial(line: str, index: int = 0) -> ChardevSpec:
    cfg = parse(line)
    return cfg.chardevs[cfg.serials[index]]


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        ("stdio", ChardevSpec("serial0", "stdio")),
        ("mon:stdio", ChardevSpec("serial0", "stdio", signal=False, mux=True)),
        ("null", ChardevSpec("serial0", "null")),
        ("vc", ChardevSpec("serial0", "null")),
        ("vc:80Cx24C", ChardevSpec("serial0", "null")),
        ("pty", ChardevSpec("serial0", "pty")),
        ("file:/tmp/com1.log", ChardevSpec("serial0", "file", path="/tmp/com1.log")),
        ("unix:/tmp/s.sock", ChardevSpec("serial0", "socket", path="/tmp/s.sock", wait=False)),
        ("unix:/tmp/s.sock,server,nowait",
         ChardevSpec("serial0", "socket", path="/tmp/s.sock", server=True, wait=False)),
        ("unix:/tmp/s.sock,server",
         ChardevSpec("serial0", "socket", path="/tmp/s.sock", server=True, wait=True)),
        ("unix:/tmp/s.sock,server=on,wait=off",
         ChardevSpec("serial0", "socket", path="/tmp/s.sock", server=True, wait=False)),
        ("unix:/tmp/a,,b.sock,server,nowait",
         ChardevSpec("serial0", "socket", path="/tmp/a,b.sock", server=True, wait=False)),
        ("tcp::4444,server,nowait",
         ChardevSpec("serial0", "socket", host="", port=4444, server=True, wait=False)),
        ("tcp:localhost:4444",
         ChardevSpec("serial0", "socket", host="localhost", port=4444, wait=False)),
        ("tcp:127.0.0.1:5555,server=on,wait=off,nodelay",
         ChardevSpec("serial0", "socket", host="127.0.0.1", port=5555, server=True, wait=False)),
    ],
)  # fmt: skip
def test_serial_shorthands(value: str, spec: ChardevSpec) -> None:
    assert serial(f"-serial {value}") == spec


def test_serial_none_and_port_order() -> None:
    cfg = parse("-serial none -serial file:/tmp/com2 -serial null")
    assert cfg.serials == [None, "serial1", "serial2"]  # COM1 stays empty, as in QEMU
    assert [cfg.chardevs[c].backend for c in cfg.serials if c] == ["file", "null"]
    assert parse("-serial none").serials == [None]


def test_four_serial_ports() -> None:
    cfg = parse("-serial null -serial null -serial file:/tmp/3 -serial pty")
    assert cfg.serials == ["serial0", "serial1", "serial2", "serial3"]
    assert cfg.chardevs["serial3"].backend == "pty"


def test_serial_chardev_resolved_after_a_later_chardev() -> None:
    cfg = parse("-serial chardev:con0 -chardev socket,id=con0,path=/tmp/c,server=on,wait=off")
    assert cfg.serials == ["con0"]
    assert cfg.chardevs["con0"] == ChardevSpec("con0", "socket", path="/tmp/c", server=True,
                                               wait=False)  # fmt: skip


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        ("stdio,id=c", ChardevSpec("c", "stdio")),
        ("stdio,id=c,signal=off", ChardevSpec("c", "stdio", signal=False)),
        ("stdio,id=c,mux=on", ChardevSpec("c", "stdio", mux=True)),
        ("file,id=f,path=/tmp/out", ChardevSpec("f", "file", path="/tmp/out")),
        ("file,path=/tmp/out,id=f", ChardevSpec("f", "file", path="/tmp/out")),
        ("backend=file,id=f,path=/tmp/o,,ut", ChardevSpec("f", "file", path="/tmp/o,ut")),
        ("pty,id=p", ChardevSpec("p", "pty")),
        ("null,id=n", ChardevSpec("n", "null")),
        ("socket,id=s,path=/tmp/s,server=on,wait=off",
         ChardevSpec("s", "socket", path="/tmp/s", server=True, wait=False)),
        ("socket,id=s,path=/tmp/s,server,nowait",
         ChardevSpec("s", "socket", path="/tmp/s", server=True, wait=False)),
        ("socket,id=s,path=/tmp/s,server=on",
         ChardevSpec("s", "socket", path="/tmp/s", server=True, wait=True)),
        ("socket,id=s,host=localhost,port=4444",
         ChardevSpec("s", "socket", host="localhost", port=4444, wait=False)),
        ("socket,id=s,port=4444,server=on,wait=off,telnet=off",
         ChardevSpec("s", "socket", host="", port=4444, server=True, wait=False)),
    ],
)  # fmt: skip
def test_chardevs(value: str, spec: ChardevSpec) -> None:
    assert parse(f"-chardev {value} -nodefaults").chardevs == {spec.id: spec}


def test_nographic_muxes_stdio() -> None:
    cfg = parse("-nographic")
    assert cfg.nographic
    assert serial("-nographic") == ChardevSpec("serial0", "stdio", signal=False, mux=True)
    # an explicit stdio serial port under -nographic gets the escapes too
    assert serial("-nographic -serial stdio") == ChardevSpec("serial0", "stdio", signal=False,
                                                             mux=True)  # fmt: skip
    assert serial("-nographic -serial file:/tmp/x").backend == "file"


def test_nodefaults() -> None:
    for line in ("-nodefaults", "-nodefaults -nographic", "-nographic -nodefaults"):
        cfg = parse(line)
        assert (cfg.serials, cfg.chardevs) == ([], {})
    assert serial("-nodefaults -serial stdio").backend == "stdio"


def test_chardev_without_serial_is_kept() -> None:
    cfg = parse("-chardev null,id=spare")
    assert cfg.serials == ["serial0"]
    assert set(cfg.chardevs) == {"spare", "serial0"}


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "option", "culprit"),
    [
        # unknown, misplaced, incomplete
        ("-hda disk.img", "-hda", "invalid option"),
        ("disk.img", "disk.img", "disk images"),
        ("-m", "-m", "requires an argument"),
        ("-kernel", "-kernel", "requires an argument"),
        ("- foo", "-", "disk images"),
        # -m
        ("-m foo", "-m", "'foo'"),
        ("-m 1X", "-m", "'1X'"),
        ("-m -1", "-m", "'-1'"),
        ("-m 1M", "-m", "'1M'"),
        ("-m 0", "-m", "'0'"),
        ("-m 1.5B", "-m", "'1.5B'"),
        ("-m 16E", "-m", "'16E'"),
        ("-m 512,slots=2", "-m", "'slots'"),
        ("-m 512,maxmem=1G", "-m", "'maxmem'"),
        ("-m size=", "-m", "''"),
        # -smp
        ("-smp 0", "-smp", "cpus=0"),
        ("-smp -1", "-smp", "cpus=-1"),
        ("-smp 2,cores=0", "-smp", "cores=0"),
        ("-smp x", "-smp", "'x'"),
        ("-smp 2,sockets=2", "-smp", "sockets=2"),
        ("-smp 2,threads=2", "-smp", "threads=2"),
        ("-smp 4,maxcpus=8", "-smp", "maxcpus=8"),
        ("-smp 4,cores=2", "-smp", "cores=2"),
        ("-smp 2,foo=1", "-smp", "'foo'"),
        ("-smp 2,cpus=3", "-smp", "'cpus'"),
        # -machine, -accel, -cpu, -display
        ("-machine q35", "-machine", "'q35'"),
        ("-M microvm", "-M", "'microvm'"),
        ("-machine pc,accel=tcg", "-machine", "'tcg'"),
        ("-machine pc,foo=bar", "-machine", "'foo'"),
        ("-accel tcg", "-accel", "'tcg'"),
        ("-accel kvm,thread=multi", "-accel", "'thread'"),
        ("-cpu qemu64", "-cpu", "'qemu64'"),
        ("-cpu host,+bogus", "-cpu", "'bogus'"),
        ("-cpu host,avx=maybe", "-cpu", "'maybe'"),
        ("-display gtk", "-display", "'gtk'"),
        ("-display none,gl=on", "-display", "gl=on"),
        # -name, -device
        ("-name vm,debug-threads=maybe", "-name", "'maybe'"),
        ("-name vm,foo=1", "-name", "'foo'"),
        ("-device e1000", "-device", "'e1000'"),
        ("-device isa-debug-exit,iobase=0x10000", "-device", "iobase=0x10000"),
        ("-device isa-debug-exit,iobase=-1", "-device", "iobase=-1"),
        ("-device isa-debug-exit,iosize=3", "-device", "iosize=3"),
        ("-device isa-debug-exit,iobase=port", "-device", "'port'"),
        ("-device isa-debug-exit,irq=5", "-device", "'irq'"),
        # -serial
        ("-serial foo", "-serial", "'foo'"),
        ("-serial chardev:missing", "-serial", "'missing'"),
        ("-serial tcp:localhost", "-serial", "'localhost'"),
        ("-serial tcp:host:port", "-serial", "'port'"),
        ("-serial unix:/tmp/s,bogus", "-serial", "'bogus'"),
        ("-serial unix:/tmp/s,server=maybe", "-serial", "'maybe'"),
        ("-serial unix:/tmp/s,telnet", "-serial", "'telnet'"),
        ("-serial null -serial null -serial null -serial null -serial null", "-serial", "4"),
        ("-chardev null,id=c -serial chardev:c -serial chardev:c", "-serial", "'c'"),
        ("-serial stdio -serial stdio", "-serial", "stdio"),
        ("-chardev stdio,id=c -serial stdio", "-serial", "stdio"),
        # -chardev
        ("-chardev foo,id=x", "-chardev", "'foo'"),
        ("-chardev stdio", "-chardev", "no id"),
        ("-chardev file,id=f", "-chardev", "no filename"),
        ("-chardev socket,id=s", "-chardev", "path= or host=,port="),
        ("-chardev socket,id=s,path=/x,telnet=on", "-chardev", "telnet"),
        ("-chardev socket,id=s,port=abc", "-chardev", "'abc'"),
        ("-chardev socket,id=s,path=/x,server=maybe", "-chardev", "'maybe'"),
        ("-chardev stdio,id=c,path=/x", "-chardev", "'path'"),
        ("-chardev null,id=c,id=d", "-chardev", "'id'"),
        ("-chardev null,id=c -chardev null,id=c", "-chardev", "'c'"),
        ("-chardev null,id=c,,x,bogus", "-chardev", "'bogus'"),
    ],
)
def test_bad_input_is_an_option_error_naming_option_and_value(
    line: str, option: str, culprit: str
) -> None:
    with pytest.raises(OptionError) as info:
        parse(line)
    assert info.value.option == option
    message = str(info.value)
    assert message.startswith(f"{option}: ")
    assert culprit in message.removeprefix(f"{option}: ")
    assert "\n" not in message


def test_control_options() -> None:
    cfg = parse_args(
        ["-qmp", "unix:/tmp/a.sock,server=on,wait=off", "-qmp", "tcp:127.0.0.1:4444,server=on",
         "-chardev", "socket,id=mon0,path=/tmp/b.sock,server=on,wait=off",
         "-mon", "chardev=mon0,mode=control", "-S",
         "-uuid", "12345678-1234-1234-1234-123456789abc", "-incoming", "defer"]
    )  # fmt: skip
    assert cfg.monitors == ["compat_monitor0", "compat_monitor1", "mon0"]
    assert cfg.chardevs["compat_monitor0"].path == "/tmp/a.sock"
    assert not cfg.chardevs["compat_monitor0"].wait
    assert cfg.chardevs["compat_monitor1"].port == 4444
    assert cfg.start_paused and cfg.incoming == "defer"
    assert cfg.uuid == bytes.fromhex("12345678123412341234123456789abc")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-qmp stdio", "the QMP monitor needs unix:PATH or tcp:HOST:PORT"),
        ("-qmp unix:/tmp/x.sock", "a QMP monitor needs a listening socket"),
        ("-mon chardev=nope,mode=control", "chardev 'nope' not found"),
        ("-chardev null,id=c -mon chardev=c", r"only mode=control \(QMP\) monitors are supported"),
        ("-uuid not-a-uuid", "Fail to parse UUID string"),
        ("-incoming tcp:0:4444", "unsupported migration URI"),
    ],
)
def test_bad_control_options(line: str, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        parse_args(line.split())


def test_virtio_transports_per_target() -> None:
    """x86's pc takes virtio devices on PCI and on virtio-mmio; RISC-V's virt only on mmio."""
    for name in ("virtio-rng-pci", "virtio-rng-device"):
        assert [d.driver for d in parse_args(["-device", name]).devices] == [name]
    assert [d.driver for d in parse_args(["-device", "virtio-rng-device"], RISCV64).devices] == [
        "virtio-rng-device"
    ]
    with pytest.raises(OptionError, match="use virtio-rng-device"):
        parse_args(["-device", "virtio-rng-pci"], RISCV64)
