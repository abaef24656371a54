"""Sv39 address translation, the TLBs and the slow paths of guest memory access.

The TLBs are dicts from virtual page number to a memoryview of the 4 KiB RAM
page, one read and one write dict per privilege level (a store entry exists
only once the PTE is dirty and the page holds no translated code), which the
generated code indexes directly. A/D bits are set by the walker, like QEMU.
Misaligned loads and stores are emulated a byte at a time; misaligned LR/SC and
AMOs raise address-misaligned.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from pyvirt.tcg.riscv.bus import AccessFault, PhysBus
from pyvirt.tcg.riscv.trap import (
    FETCH_ACCESS,
    FETCH_PAGE_FAULT,
    LOAD_ACCESS,
    LOAD_PAGE_FAULT,
    MISALIGNED_LOAD,
    MISALIGNED_STORE,
    STORE_ACCESS,
    STORE_PAGE_FAULT,
    Trap,
)

if TYPE_CHECKING:
    from pyvirt.tcg.riscv.hart import Hart

FETCH, LOAD, STORE = 0, 1, 2
PAGE_FAULT = {FETCH: FETCH_PAGE_FAULT, LOAD: LOAD_PAGE_FAULT, STORE: STORE_PAGE_FAULT}
ACCESS_FAULT = {FETCH: FETCH_ACCESS, LOAD: LOAD_ACCESS, STORE: STORE_ACCESS}
PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_A, PTE_D = 1, 2, 4, 8, 16, 64, 128
PPN_MASK = (1 << 44) - 1
MSTATUS_MPRV, MSTATUS_SUM, MSTATUS_MXR = 1 << 17, 1 << 18, 1 << 19
M64 = (1 << 64) - 1
ATOMIC_LOCK = threading.Lock()  # AMOs are atomic across harts
AMO_OPS = {
    "amoswap": lambda old, v, sign: v,
    "amoadd": lambda old, v, sign: old + v,
    "amoxor": lambda old, v, sign: old ^ v,
    "amoand": lambda old, v, sign: old & v,
    "amoor": lambda old, v, sign: old | v,
    "amomin": lambda old, v, sign: min(old ^ sign, v ^ sign) ^ sign,
    "amomax": lambda old, v, sign: max(old ^ sign, v ^ sign) ^ sign,
    "amominu": lambda old, v, sign: min(old, v),
    "amomaxu": lambda old, v, sign: max(old, v),
}


class Mmu:
    """Guest memory as one hart sees it."""

    def __init__(self, hart: Hart, bus: PhysBus) -> None:
        self.hart = hart
        self.bus = bus
        self.regions = sorted(bus.ram_regions(), key=lambda region: region[0])
        self.pages: dict[int, memoryview | None] = {}  # ppn -> RAM page (None: not RAM)
        self.read_tlb: dict[int, dict[int, memoryview]] = {0: {}, 1: {}, 3: {}}
        self.write_tlb: dict[int, dict[int, memoryview]] = {0: {}, 1: {}, 3: {}}
        self.fetch_tlb: dict[int, dict[int, int]] = {0: {}, 1: {}, 3: {}}  # vpn -> ppn
        self.code_pages: set[int] = set()  # pages holding translated code (never in write_tlb)
        self.reservation: int | None = None  # LR/SC reserved virtual address

    # -- physical memory

    def page(self, ppn: int) -> memoryview | None:
        """The RAM page `ppn`, or None for MMIO (or nothing)."""
        try:
            return self.pages[ppn]
        except KeyError:
            pass
        view = None
        base = ppn << 12
        for start, region in self.regions:
            if start <= base and base + 4096 <= start + len(region):
                view = region[base - start : base - start + 4096]
                break
        self.pages[ppn] = view
        return view

    def phys_read(self, paddr: int, size: int, access: int, vaddr: int) -> int:
        page = self.page(paddr >> 12)
        if page is not None:
            offset = paddr & 4095
            return int.from_bytes(page[offset : offset + size], "little")
        try:
            return self.bus.mmio_read(paddr, size)
        except AccessFault:
            raise Trap(ACCESS_FAULT[access], vaddr) from None

    # -- translation

    def data_priv(self) -> int:
        """The privilege loads and stores are checked at (mstatus.MPRV applies MPP in M-mode)."""
        hart = self.hart
        if hart.priv == 3 and hart.mstatus & MSTATUS_MPRV:
            return (hart.mstatus >> 11) & 3
        return hart.priv

    def flush(self) -> None:
        """Drop every cached translation (satp, sfence.vma, mstatus SUM/MXR/MPRV changes)."""
        for tlbs in (self.read_tlb, self.write_tlb, self.fetch_tlb):
            for tlb in tlbs.values():
                tlb.clear()

    def translate(self, vaddr: int, access: int, priv: int) -> int:
        """Physical address of `vaddr`, walking the Sv39 page table; Trap on a fault."""
        satp = self.hart.satp
        if priv == 3 or not satp >> 60:
            if vaddr >> 56:
                raise Trap(ACCESS_FAULT[access], vaddr)
            return vaddr
        top = vaddr >> 38
        if top and top != (1 << 26) - 1:
            raise Trap(PAGE_FAULT[access], vaddr)
        table = (satp & PPN_MASK) << 12
        for level in (2, 1, 0):
            pte_addr = table + ((vaddr >> (12 + 9 * level)) & 511) * 8
            pte = self.phys_read(pte_addr, 8, access, vaddr)
            if not pte & PTE_V or pte & (PTE_R | PTE_W) == PTE_W:
                raise Trap(PAGE_FAULT[access], vaddr)
            if pte & (PTE_R | PTE_X):
                break
            table = ((pte >> 10) & PPN_MASK) << 12
        else:
            raise Trap(PAGE_FAULT[access], vaddr)
        ppn = (pte >> 10) & PPN_MASK
        offset_bits = 12 + 9 * level
        if pte >> 54 or not self._permitted(pte, access, priv) or ppn & ((1 << 9 * level) - 1):
            raise Trap(PAGE_FAULT[access], vaddr)
        updated = pte | PTE_A | (PTE_D if access == STORE else 0)
        if updated != pte:
            page = self.page(pte_addr >> 12)
            if page is None:
                raise Trap(ACCESS_FAULT[access], vaddr)
            page[pte_addr & 4095 : (pte_addr & 4095) + 8] = updated.to_bytes(8, "little")
        return (ppn << 12) | (vaddr & ((1 << offset_bits) - 1))

    def _permitted(self, pte: int, access: int, priv: int) -> bool:
        mstatus = self.hart.mstatus
        if pte & PTE_U:
            if priv == 1 and (access == FETCH or not mstatus & MSTATUS_SUM):
                return False
        elif priv == 0:
            return False
        if access == FETCH:
            return bool(pte & PTE_X)
        if access == LOAD:
            return bool(pte & PTE_R or (mstatus & MSTATUS_MXR and pte & PTE_X))
        return bool(pte & PTE_W)

    # -- the slow paths behind the generated code's TLB lookups

    def fetch16(self, vaddr: int) -> tuple[int, int]:
        """(halfword at `vaddr`, its physical page number), for the translator."""
        priv = self.hart.priv
        tlb = self.fetch_tlb[priv]
        ppn = tlb.get(vaddr >> 12)
        if ppn is None:
            ppn = self.translate(vaddr, FETCH, priv) >> 12
            if self.page(ppn) is None:
                raise Trap(FETCH_ACCESS, vaddr)
            tlb[vaddr >> 12] = ppn
        page = self.page(ppn)
        assert page is not None
        offset = vaddr & 4095
        return page[offset] | page[offset + 1] << 8, ppn

    def load(self, vaddr: int, size: int) -> int:
        if vaddr & (size - 1):
            return sum(self.load((vaddr + i) & M64, 1) << (8 * i) for i in range(size))
        priv = self.data_priv()
        paddr = self.translate(vaddr, LOAD, priv)
        page = self.page(paddr >> 12)
        if page is None:
            return self.phys_read(paddr, size, LOAD, vaddr)
        self.read_tlb[priv][vaddr >> 12] = page
        offset = paddr & 4095
        return int.from_bytes(page[offset : offset + size], "little")

    def store(self, vaddr: int, size: int, value: int) -> None:
        if vaddr & (size - 1):
            for i in range(size):
                self.store((vaddr + i) & M64, 1, value >> (8 * i))
            return
        priv = self.data_priv()
        paddr = self.translate(vaddr, STORE, priv)
        ppn = paddr >> 12
        page = self.page(ppn)
        if page is None:
            try:
                self.bus.mmio_write(paddr, size, value & ((1 << (8 * size)) - 1))
            except AccessFault:
                raise Trap(STORE_ACCESS, vaddr) from None
            return
        if ppn in self.code_pages:  # stores stay on this slow path while it holds code
            self.hart.translator.code_written(paddr, size)
        else:
            self.write_tlb[priv][vaddr >> 12] = page
        offset = paddr & 4095
        page[offset : offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def atomic(self, op: str, vaddr: int, size: int, value: int) -> int:
        """LR, SC or an AMO; returns what lands in rd (sign-extended for .w)."""
        if vaddr & (size - 1):
            raise Trap(MISALIGNED_LOAD if op == "lr" else MISALIGNED_STORE, vaddr)
        bits = 8 * size
        sign = 1 << (bits - 1)
        with ATOMIC_LOCK:
            if op == "lr":
                result = self.load(vaddr, size)
                self.reservation = vaddr
            elif op == "sc":
                result = int(self.reservation != vaddr)
                self.reservation = None
                if not result:
                    self.store(vaddr, size, value)
            else:
                # Check store permission first: a faulting AMO reports a store fault.
                self.translate(vaddr, STORE, self.data_priv())
                result = self.load(vaddr, size)
                mask = (1 << bits) - 1
                self.store(vaddr, size, AMO_OPS[op](result, value & mask, sign) & mask)
        return ((result ^ sign) - sign) & M64 if bits == 32 else result
