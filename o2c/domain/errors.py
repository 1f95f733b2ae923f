"""Domain errors. Each carries the contract's error code (API.md, Errors);
one module (``o2c.api.errors``) maps them to HTTP statuses."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "conflict"

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(DomainError):
    """Input that passed the schema but breaks a business rule on a field."""

    code = "validation_error"

    def __init__(self, message: str, fields: dict[str, Any]):
        super().__init__(message, {"fields": fields})


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class OutOfStock(DomainError):
    code = "out_of_stock"


class CreditLimitExceeded(DomainError):
    code = "credit_limit_exceeded"


class PeriodClosed(DomainError):
    code = "period_closed"


class RateMissing(DomainError):
    """No exchange rate for a currency on a date that needs one (never a silent 1.0)."""

    code = "rate_missing"


class CurrencyMismatch(DomainError):
    """Money in one currency put against a document in another (converting is explicit, not implied)."""

    code = "currency_mismatch"


class Forbidden(DomainError):
    code = "forbidden"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"


class CouponUnavailable(DomainError):
    """A coupon that is used up, expired, another customer's, or not met by the order."""

    code = "coupon_unavailable"
