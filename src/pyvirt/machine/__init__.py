"""Boards: memory maps, firmware tables and boot loaders of the machines we emulate."""
