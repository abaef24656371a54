"""pyvirt-img: qemu-img's everyday commands, syntax and output, on pyvirt's block layer."""
