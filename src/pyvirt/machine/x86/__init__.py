"""The x86-64 PC board."""
