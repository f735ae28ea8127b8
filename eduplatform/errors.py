"""Domain errors raised by services; each entry point turns them into its own form.

The REST API's form is `api_exception_handler`: every error is JSON, a `DomainError` becomes a 400 whose
body names the field (and, for bulk requests, the item index) when the service knows them.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """An error a user can act on; `str(error)` is the message shown to them.

    Services may set `field` (the input field at fault) and `index` (the item of a bulk request).
    """

    field: str | None = None
    index: int | None = None


class PermissionRefused(DomainError):
    """The acting user may not do this; the message says who may (courses.permissions.authorize)."""


PermissionDenied = PermissionRefused  # the name the API error tests and older callers use


class BrokerUnavailable(DomainError):
    """The task broker cannot be reached; the work was saved but not queued."""


# What an unreachable broker raises when a task is queued or revoked (kombu wraps most; the Redis client
# raises its own). The one policy for every service that enqueues: only these mean "saved, not queued";
# any other error is a bug and must not pass for an outage.
BROKER_ERRORS = (KombuOperationalError, RedisConnectionError, RedisTimeoutError, OSError)


DOMAIN_ERROR_STATUS = {
    PermissionRefused: status.HTTP_403_FORBIDDEN,
    BrokerUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def domain_error_body(exc: DomainError) -> dict[str, Any]:
    """`{"detail": msg}`, or DRF's per-field shape when the service named the field (and item)."""
    message = str(exc)
    field = getattr(exc, "field", None)
    index = getattr(exc, "index", None)
    if field is None:
        return {"detail": message}
    if index is None:
        return {field: [message]}
    return {"items": {str(index): {field: [message]}}}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus domain errors (400; 403 for PermissionDenied; 503 when the broker is down, so
    clients retry later) and model validation errors."""
    if isinstance(exc, DomainError):
        code = DOMAIN_ERROR_STATUS.get(type(exc), status.HTTP_400_BAD_REQUEST)
        return Response(domain_error_body(exc), status=code)
    if isinstance(exc, DjangoValidationError):
        body = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    return exception_handler(exc, context)
