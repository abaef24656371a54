"""libvirt's wire protocol: XDR codec, message framing and the remote program's procedures."""
