"""The QEMU Machine Protocol (QMP) monitor: wire protocol, server and commands."""
