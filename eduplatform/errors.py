"""Domain errors raised by services; each entry point turns them into its own form."""


class DomainError(Exception):
    """An error a user can act on; `str(error)` is the message shown to them."""


class PermissionDenied(DomainError):
    pass


class BrokerUnavailable(DomainError):
    """The task broker cannot be reached; the work was saved but not queued."""
