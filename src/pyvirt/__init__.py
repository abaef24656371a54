"""pyvirt: a hackable Linux virtualization stack written in Python."""

__version__ = "0.1.0"
