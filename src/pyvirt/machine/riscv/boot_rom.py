"""The boot ROM's reset vector and OpenSBI's fw_dynamic_info (as QEMU's hw/riscv/boot.c).

The hart starts at the ROM in M-mode. The vector loads a0 = mhartid,
a1 = the device tree, a2 = the fw_dynamic_info that follows it, and jumps to
the firmware (or, with `-bios none`, straight to the kernel).
"""

from __future__ import annotations

import struct

FW_DYNAMIC_MAGIC = 0x4942534F  # "OSBI"
FW_DYNAMIC_VERSION = 2
NEXT_MODE_S = 1

T0, A0, A1, A2 = 5, 10, 11, 12
CSR_MHARTID = 0xF14
START_OFFSET, FDT_OFFSET, INFO_OFFSET = 24, 32, 40  # data after the six instructions


def _i_type(opcode: int, funct3: int, rd: int, rs1: int, imm: int) -> int:
    return (imm & 0xFFF) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode


def reset_vector() -> list[int]:
    return [
        0 << 12 | T0 << 7 | 0x17,  # auipc t0, 0
        _i_type(0x13, 0, A2, T0, INFO_OFFSET),  # addi a2, t0, INFO_OFFSET
        _i_type(0x73, 2, A0, 0, CSR_MHARTID),  # csrr a0, mhartid
        _i_type(0x03, 3, A1, T0, FDT_OFFSET),  # ld a1, FDT_OFFSET(t0)
        _i_type(0x03, 3, T0, T0, START_OFFSET),  # ld t0, START_OFFSET(t0)
        _i_type(0x67, 0, 0, T0, 0),  # jr t0
    ]


def boot_rom(start: int, fdt: int, next_addr: int, boot_hart: int = 0) -> bytes:
    """The ROM's contents: jump to `start` with the FDT at `fdt`; the firmware's next
    stage (the kernel, in S-mode) at `next_addr`."""
    code = struct.pack("<6I", *reset_vector())
    data = struct.pack("<QQ", start, fdt)
    info = struct.pack(
        "<6Q", FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, next_addr, NEXT_MODE_S, 0, boot_hart
    )
    return code + data + info
