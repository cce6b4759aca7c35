"""The one error hierarchy of Levante.

Every error a client can cause or see is a :class:`LevanteError`. Each class carries the HTTP
status and the Mistral-style error ``type`` it maps to; the HTTP layer maps them once, in
``levante.api.errors``, to the body ``{"object": "error", "message", "type", "param", "code"}``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, ClassVar


class LevanteError(Exception):
    """Base class of every error Levante raises on purpose."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        detail: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers = headers or {}
        self.detail = detail


class ConfigurationError(LevanteError):
    """The settings or the files they name are unusable."""

    default_code = "configuration_error"


class InvalidRequestError(LevanteError):
    """The request is well-formed but cannot be served as asked (400)."""

    status_code = 400
    error_type = "invalid_request_error"
    default_code = "invalid_request"


class ContextLengthExceededError(InvalidRequestError):
    """The prompt, or prompt plus ``max_tokens``, does not fit the model's context."""

    default_code = "context_length_exceeded"


class InvalidAmountError(InvalidRequestError):
    """An amount of money that is not a decimal, has too many decimals or is out of range
    (the code stays the one such errors always had: ``invalid_request``)."""


class LicenseInvalidError(InvalidRequestError):
    """A licence file that cannot be trusted, or that is not valid now; the code says why."""

    default_code = "license_invalid"


class ActivationRequestInvalidError(InvalidRequestError):
    """An air-gapped site's activation request that is malformed or badly signed."""

    default_code = "activation_request_invalid"


class ReportInvalidError(InvalidRequestError):
    """A licensed site's usage report that is malformed, forged or out of its period."""

    default_code = "usage_report_invalid"


class ContentBlockedError(InvalidRequestError):
    """A guardrail (the organisation's, or the request's own) refused the request (400)."""

    default_code = "content_blocked"


class ValidationFailedError(LevanteError):
    """A field of the request fails validation (422)."""

    status_code = 422
    error_type = "invalid_request_error"
    default_code = "validation_error"


class AuthenticationError(LevanteError):
    """No API key, or one that is unknown, revoked or expired (401)."""

    status_code = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDeniedError(LevanteError):
    """The key is valid but may not do this (403)."""

    status_code = 403
    error_type = "authentication_error"
    default_code = "permission_denied"


class NotFoundError(LevanteError):
    """The named resource does not exist, or is not visible to the caller (404)."""

    status_code = 404
    error_type = "invalid_request_error"
    default_code = "not_found"


class NotLicensedError(PermissionDeniedError):
    """The licence does not grant this; the message names the entitlement."""

    default_code = "not_licensed"


class ModelNotFoundError(NotFoundError):
    default_code = "model_not_found"


class ConflictError(LevanteError):
    """The resource already exists (409)."""

    status_code = 409
    error_type = "invalid_request_error"
    default_code = "conflict"


class ExchangeRateMissingError(ConflictError):
    """An amount in one currency must be reported in another, and no rate says how."""

    default_code = "exchange_rate_missing"


class PayloadTooLargeError(LevanteError):
    """The request body is larger than ``max_request_bytes`` (413)."""

    status_code = 413
    error_type = "invalid_request_error"
    default_code = "payload_too_large"


class StorageLimitReachedError(PayloadTooLargeError):
    """The organisation's files would take more room than it is allowed (413)."""

    default_code = "storage_limit_reached"


class RateLimitedError(LevanteError):
    """Too many requests for a limit; ``Retry-After`` says when to come back (429)."""

    status_code = 429
    error_type = "rate_limit_error"
    default_code = "rate_limited"


class SpendLimitReachedError(RateLimitedError):
    """A monthly spending cap would be exceeded; ``Retry-After`` points at the next period."""

    default_code = "spend_limit_reached"


class MessageLimitReachedError(RateLimitedError):
    """A chat plan's messages per rolling window (or week) are used up; ``resets_at`` is when
    the oldest message counted leaves the window and one can be sent again."""

    default_code = "message_limit_reached"

    def __init__(self, message: str, *, resets_at: datetime, limit: int, window: str) -> None:
        wait = max(1, math.ceil((resets_at - datetime.now(UTC)).total_seconds()))
        super().__init__(message, headers={"Retry-After": str(wait)})
        self.resets_at = resets_at
        self.limit = limit
        self.window = window


class PaymentRequiredError(LevanteError):
    """The organisation's prepaid credits are spent, or unpaid invoices have restricted it (402)."""

    status_code = 402
    error_type = "billing_error"
    default_code = "payment_required"


class ClientDisconnectedError(LevanteError):
    """The client closed the connection before the answer was ready (nginx's 499)."""

    status_code = 499
    error_type = "invalid_request_error"
    default_code = "client_closed_request"


class OverloadedError(LevanteError):
    """The model's queue is full; the client should retry later (503)."""

    status_code = 503
    error_type = "server_error"
    default_code = "overloaded"


class StoreUnavailableError(LevanteError):
    """The database cannot be reached; nothing was served, and the client should retry (503)."""

    status_code = 503
    error_type = "server_error"
    default_code = "store_unavailable"


class EngineError(LevanteError):
    """The model engine failed while serving a request (500)."""

    default_code = "engine_error"


class UpstreamError(LevanteError):
    """No upstream replica gave a usable answer (502)."""

    status_code = 502
    default_code = "upstream_error"
