"""The VMM process: QEMU-style command line, chardevs, vCPU threads and the main loop."""
