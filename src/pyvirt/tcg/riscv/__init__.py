"""A 64-bit RISC-V hart (RV64IMAC, Zicsr, Zifencei, M/S/U, Sv39) with a block translator."""
