"""Synchronous exceptions and interrupt causes of the privileged architecture."""

from __future__ import annotations

INTERRUPT = 1 << 63

MISALIGNED_FETCH = 0
FETCH_ACCESS = 1
ILLEGAL_INSTRUCTION = 2
BREAKPOINT = 3
MISALIGNED_LOAD = 4
LOAD_ACCESS = 5
MISALIGNED_STORE = 6
STORE_ACCESS = 7
ECALL_FROM_U = 8  # + privilege level of the caller
FETCH_PAGE_FAULT = 12
LOAD_PAGE_FAULT = 13
STORE_PAGE_FAULT = 15


class Trap(Exception):
    """A guest exception: unwinds the current block to the hart's trap entry."""

    def __init__(self, cause: int, tval: int = 0) -> None:
        super().__init__(cause, tval)
        self.cause = cause
        self.tval = tval
