"""Block layer: disk image formats behind one driver interface."""
