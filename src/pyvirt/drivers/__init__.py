"""Hypervisor drivers behind one interface, chosen by connection URI."""
