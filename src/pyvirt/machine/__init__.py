"""Boards: memory maps, firmware tables and boot loaders."""
