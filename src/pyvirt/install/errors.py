"""A failure virt-install reports as `ERROR    <message>` and exit status 1."""


class InstallError(Exception):
    pass
