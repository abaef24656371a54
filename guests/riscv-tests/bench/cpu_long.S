/* cpu.S with 50 times the rounds: long enough to time QEMU's TCG. */
#define ROUNDS 2000
#include "cpu.S"
