"""libvirt's error model: every management-layer failure carries libvirt's code and domain.

The numbers are libvirt's (virterror.h), so the daemon can put them on the wire
unchanged and virsh / libvirt-python print and classify them as usual.
Check new ones against libvirt-python's VIR_ERR_* / VIR_FROM_* constants.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    INTERNAL_ERROR = 1
    NO_SUPPORT = 3
    NO_CONNECT = 5
    INVALID_CONN = 6
    INVALID_ARG = 8
    OPERATION_FAILED = 9
    XML_ERROR = 27
    XML_DETAIL = 35
    DOM_EXIST = 28
    OPERATION_DENIED = 29
    SYSTEM_ERROR = 38
    RPC = 39
    AUTH_FAILED = 45
    NO_DOMAIN = 42
    NO_NETWORK = 43
    NO_STORAGE_POOL = 49
    NO_STORAGE_VOL = 50
    OPERATION_INVALID = 55
    NO_DOMAIN_SNAPSHOT = 72
    CONFIG_UNSUPPORTED = 67
    OPERATION_UNSUPPORTED = 84
    STORAGE_VOL_EXIST = 90


class ErrorDomain(IntEnum):
    NONE = 0
    XML = 5
    DOM = 6
    RPC = 7
    QEMU = 10
    TEST = 12
    REMOTE = 13
    STORAGE = 18
    NETWORK = 19
    DOMAIN = 20  # domain configuration (XML)
    DOMAIN_SNAPSHOT = 35
    STREAMS = 38


class ErrorLevel(IntEnum):
    NONE = 0
    WARNING = 1
    ERROR = 2


# The text libvirt puts before the detail for a code (virErrorMsg).
MESSAGE_PREFIX = {
    ErrorCode.NO_DOMAIN: "Domain not found",
    ErrorCode.NO_STORAGE_POOL: "Storage pool not found",
    ErrorCode.NO_STORAGE_VOL: "Storage volume not found",
    ErrorCode.OPERATION_INVALID: "Requested operation is not valid",
    ErrorCode.INVALID_ARG: "invalid argument",
    ErrorCode.OPERATION_UNSUPPORTED: "Operation not supported",
    ErrorCode.OPERATION_FAILED: "operation failed",
}


class VirtError(Exception):
    """A failure as libvirt reports it: `code`, `domain` and the message users see."""

    @classmethod
    def of(cls, code: ErrorCode, detail: str, domain: ErrorDomain = ErrorDomain.NONE) -> VirtError:
        """The error with libvirt's own wording for `code` before `detail`."""
        return cls(code, f"{MESSAGE_PREFIX[code]}: {detail}", domain)

    def __init__(
        self, code: ErrorCode, message: str, domain: ErrorDomain = ErrorDomain.NONE
    ) -> None:
        super().__init__(message)
        self.code = code
        self.domain = domain
        self.message = message
        self.level = ErrorLevel.ERROR

    # libvirt-python's accessors, so pyvirt.client can raise VirtError as its libvirtError
    def get_error_code(self) -> int:
        return int(self.code)

    def get_error_domain(self) -> int:
        return int(self.domain)

    def get_error_message(self) -> str:
        return self.message

    def get_error_level(self) -> int:
        return int(self.level)
