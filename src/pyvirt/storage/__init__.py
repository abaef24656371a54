"""Storage: directory pools and their raw/qcow2 volumes, with libvirt's pool and volume XML."""
