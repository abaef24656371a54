"""The two ways a configuration is refused, with libvirt's codes and message prefixes."""

from __future__ import annotations

from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError


def xml_error(detail: str, domain: ErrorDomain = ErrorDomain.DOMAIN) -> VirtError:
    """Malformed or invalid XML (VIR_ERR_XML_ERROR)."""
    return VirtError(ErrorCode.XML_ERROR, f"XML error: {detail}", domain)


def unsupported(detail: str, domain: ErrorDomain = ErrorDomain.DOMAIN) -> VirtError:
    """Valid libvirt XML that we cannot honour (VIR_ERR_CONFIG_UNSUPPORTED)."""
    return VirtError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: {detail}", domain)
