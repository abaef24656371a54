"""virtio 1.x: split virtqueues, the device model base, the PCI and MMIO transports, devices."""
