"""pyvirsh, virsh's command line over pyvirt's client API (works against libvirtd too)."""
