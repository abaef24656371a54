"""Benchmarks of pyvirt against QEMU, measured side by side and printed as ratios."""
