"""pyvirtd: the management daemon, speaking libvirt's RPC protocol on unix sockets."""
