"""Software CPUs: guests run without KVM, their machine code translated to Python."""
