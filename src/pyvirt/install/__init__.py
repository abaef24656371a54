"""pyvirt-install: virt-install's command line for creating VMs through the client API."""
