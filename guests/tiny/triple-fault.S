/*
 * triple-fault: load an empty IDT and raise an exception.  With no handler
 * the exception becomes a double fault, then a triple fault: the CPU shuts
 * down.  QEMU resets the machine; pyvirt reports the shutdown and fails.
 */
#include "tiny.h"

        .code32
        .text
        .globl main
main:
        PRINT("triple-fault: loading an empty IDT\n")
        lidt empty_idt
        ud2

        .section .rodata
        .balign 8
empty_idt:
        .word 0
        .long 0
