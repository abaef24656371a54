"""QEMU's RISC-V `virt` board on the software CPU (pyvirt.tcg.riscv)."""
