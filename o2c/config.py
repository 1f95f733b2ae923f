"""Settings from the environment, in one class."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEV_SECRET = "dev-only-insecure-secret-key"


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw in (None, "") else raw.strip().lower() in ("1", "true", "yes", "on")


def _default_db_url() -> str:
    instance = Path(os.environ.get("O2C_INSTANCE_PATH", Path.cwd() / "instance"))
    return f"sqlite:///{instance / 'o2c.sqlite3'}"


@dataclass
class Config:
    DATABASE_URL: str = field(default_factory=lambda: os.environ.get("O2C_DATABASE_URL") or _default_db_url())
    SECRET_KEY: str = field(default_factory=lambda: os.environ.get("O2C_SECRET_KEY", DEV_SECRET))
    ENV: str = field(default_factory=lambda: os.environ.get("O2C_ENV", "development"))
    # SQLite: how long a writer waits for the lock before giving up (ms).
    SQLITE_BUSY_TIMEOUT_MS: int = field(default_factory=lambda: int(os.environ.get("O2C_SQLITE_BUSY_TIMEOUT_MS", "30000")))
    DB_POOL_SIZE: int = field(default_factory=lambda: int(os.environ.get("O2C_DB_POOL_SIZE", "10")))
    # Dunning: days overdue at which a reminder, a second reminder and a final notice go out.
    DUNNING_DAYS: tuple[int, ...] = field(default_factory=lambda: tuple(
        int(x) for x in os.environ.get("O2C_DUNNING_DAYS", "1,15,30").split(",")))
    # Webhooks. Secrets are derived from WEBHOOK_KEY (default: SECRET_KEY):
    # changing it changes every subscription's secret.
    WEBHOOK_KEY: str = field(default_factory=lambda: os.environ.get("O2C_WEBHOOK_KEY", ""))
    WEBHOOK_TIMEOUT_S: float = field(default_factory=lambda: _env_float("O2C_WEBHOOK_TIMEOUT", 10))
    WEBHOOK_RETRY_BASE_S: float = field(default_factory=lambda: _env_float("O2C_WEBHOOK_RETRY_BASE", 30))
    WEBHOOK_RETRY_MAX_DELAY_S: float = field(default_factory=lambda: _env_float("O2C_WEBHOOK_RETRY_MAX_DELAY", 6 * 3600))
    WEBHOOK_RETRY_HORIZON_S: float = field(default_factory=lambda: _env_float("O2C_WEBHOOK_RETRY_HORIZON", 3 * 24 * 3600))
    # Webhook targets on loopback, private and link-local addresses (the tests'
    # receivers on 127.0.0.1, a receiver on the developer's machine): allowed
    # in development and testing unless O2C_WEBHOOK_ALLOW_PRIVATE=0; never in
    # any other O2C_ENV (setting it there is refused at start-up).
    WEBHOOK_ALLOW_PRIVATE: bool | None = field(
        default_factory=lambda: None if os.environ.get("O2C_WEBHOOK_ALLOW_PRIVATE") in (None, "")
        else _env_flag("O2C_WEBHOOK_ALLOW_PRIVATE", False))
    WEBHOOK_LOG_RETENTION_DAYS: float = field(default_factory=lambda: _env_float("O2C_WEBHOOK_LOG_RETENTION_DAYS", 30))
    # Background jobs: how long a claimed job stays leased to its worker
    # without a heartbeat, and how long an events reader waits for
    # transactions still writing events (PostgreSQL).
    JOB_LEASE_S: float = field(default_factory=lambda: _env_float("O2C_JOB_LEASE", 60))
    EVENTS_SETTLE_WAIT_S: float = field(default_factory=lambda: _env_float("O2C_EVENTS_SETTLE_WAIT", 2))
    # How often a worker seals the journal's hash chain (once per interval
    # across all workers).
    SEAL_INTERVAL_S: float = field(default_factory=lambda: _env_float("O2C_SEAL_INTERVAL", 60))
    #: Customers after the sale (README, Customers after the sale): how often the product
    #: associations are mined again, how many days after a shipment the satisfaction
    #: message goes out, and when a customer counts as lapsed (their usual interval
    #: between orders × the factor; one-time buyers after the fixed number of days).
    ASSOCIATIONS_INTERVAL_S: float = field(default_factory=lambda: _env_float("O2C_ASSOCIATIONS_INTERVAL", 24 * 3600))
    #: The address customers reach the public pages at (links in messages).
    PUBLIC_URL: str = field(default_factory=lambda: os.environ.get("O2C_PUBLIC_URL", "http://localhost:8000"))
    FOLLOWUP_DAYS: int = field(default_factory=lambda: int(os.environ.get("O2C_FOLLOWUP_DAYS", "7")))
    WINBACK_FACTOR: float = field(default_factory=lambda: _env_float("O2C_WINBACK_FACTOR", 2))
    WINBACK_ONE_TIME_DAYS: int = field(default_factory=lambda: int(os.environ.get("O2C_WINBACK_ONE_TIME_DAYS", "120")))
    # Web sessions: how long a sign-in lasts, and whether the cookie is sent
    # over HTTPS only (on by default outside development and testing).
    SESSION_HOURS: int = field(default_factory=lambda: int(os.environ.get("O2C_SESSION_HOURS", "8")))
    SESSION_COOKIE_SECURE: bool = field(default_factory=lambda: os.environ.get(
        "O2C_SESSION_COOKIE_SECURE", "").lower() in ("1", "true", "yes") or os.environ.get(
        "O2C_ENV", "development") not in ("development", "testing"))
    # Where the JSON line per request goes: a file path, or "" for standard error.
    REQUEST_LOG: str = field(default_factory=lambda: os.environ.get("O2C_REQUEST_LOG", ""))
    # Rate limits (o2c/ratelimit.py): on unless O2C_ENV is testing (or set
    # explicitly). Storage: memory of each process, or e.g. redis://host:6379
    # shared by every process. Limits in the `limits` notation ("50/second;
    # 2000/minute"); see README, Rate limits, for why these defaults.
    RATELIMIT_ENABLED: bool | None = field(
        default_factory=lambda: None if os.environ.get("O2C_RATELIMIT_ENABLED") in (None, "")
        else _env_flag("O2C_RATELIMIT_ENABLED", True))
    RATELIMIT_STORAGE_URL: str = field(default_factory=lambda: os.environ.get("O2C_RATELIMIT_STORAGE_URL") or "memory://")
    RATELIMIT_API: str = field(default_factory=lambda: os.environ.get("O2C_RATELIMIT_API") or "50/second;2000/minute")
    RATELIMIT_ANONYMOUS: str = field(default_factory=lambda: os.environ.get("O2C_RATELIMIT_ANONYMOUS")
                                     or "20/second;300/minute")
    RATELIMIT_LOGIN: str = field(default_factory=lambda: os.environ.get("O2C_RATELIMIT_LOGIN") or "10/minute")
    RATELIMIT_LOGIN_ADDRESS: str = field(default_factory=lambda: os.environ.get("O2C_RATELIMIT_LOGIN_ADDRESS")
                                         or "30/minute")
    # E-mail (o2c.services.platform.outbox). Without MAIL_URL
    # (smtp://user:pass@host:587?starttls=1, smtps://…) messages are written
    # as .eml files to OUTBOX_DIR and marked sent.
    MAIL_URL: str = field(default_factory=lambda: os.environ.get("O2C_MAIL_URL", ""))
    MAIL_FROM: str = field(default_factory=lambda: os.environ.get("O2C_MAIL_FROM") or "billing@o2c.invalid")
    OUTBOX_DIR: str = field(default_factory=lambda: os.environ.get("O2C_OUTBOX_DIR") or str(
        Path(os.environ.get("O2C_INSTANCE_PATH", Path.cwd() / "instance")) / "outbox"))
    MAIL_TIMEOUT_S: float = field(default_factory=lambda: _env_float("O2C_MAIL_TIMEOUT", 30))
    MAIL_RETRY_BASE_S: float = field(default_factory=lambda: _env_float("O2C_MAIL_RETRY_BASE", 60))
    MAIL_RETRY_MAX_DELAY_S: float = field(default_factory=lambda: _env_float("O2C_MAIL_RETRY_MAX_DELAY", 3600))
    MAIL_MAX_ATTEMPTS: int = field(default_factory=lambda: int(os.environ.get("O2C_MAIL_MAX_ATTEMPTS") or 12))
    # Exchange rates: how many days back a day without a rate may take the
    # latest earlier one (weekends, the ECB's holidays), and a live source
    # (`o2c fx fetch`): a URL serving the ECB's daily XML; empty = none,
    # nothing is ever fetched.
    FX_RATE_FALLBACK_DAYS: int = field(default_factory=lambda: int(os.environ.get("O2C_FX_RATE_FALLBACK_DAYS", "4")))
    FX_PROVIDER_URL: str = field(default_factory=lambda: os.environ.get("O2C_FX_PROVIDER_URL", ""))
    # Quotations: default validity in days, reminder this many days before
    # the validity ends (0: none), the reasons a customer may decline for,
    # and how many requests per address the public acceptance pages take.
    QUOTE_VALIDITY_DAYS: int = field(default_factory=lambda: int(os.environ.get("O2C_QUOTE_VALIDITY_DAYS") or 30))
    QUOTE_REMINDER_DAYS: int = field(default_factory=lambda: int(os.environ.get("O2C_QUOTE_REMINDER_DAYS") or 0))
    QUOTE_DECLINE_REASONS: tuple[str, ...] = field(default_factory=lambda: tuple(
        r.strip() for r in (os.environ.get("O2C_QUOTE_DECLINE_REASONS")
                            or "price,delivery_time,payment_terms,chose_competitor,no_longer_needed,other").split(",")
        if r.strip()))
    # The address customers reach this service at (acceptance links in
    # e-mails); empty: the address of the request that sends the quotation.
    PUBLIC_URL: str = field(default_factory=lambda: os.environ.get("O2C_PUBLIC_URL", ""))
    RATELIMIT_QUOTE_LINKS: str = field(default_factory=lambda: os.environ.get("O2C_RATELIMIT_QUOTE_LINKS")
                                       or "10/minute;100/hour")
    MAX_CONTENT_LENGTH: int = 1024 * 1024
    # The largest bank statement file accepted (POST /api/v1/bank/statements
    # and the upload page only; every other body keeps MAX_CONTENT_LENGTH).
    BANK_FILE_MAX_BYTES: int = field(default_factory=lambda: int(
        os.environ.get("O2C_BANK_FILE_MAX_BYTES", str(20 * 1024 * 1024))))
    PAGE_LIMIT_DEFAULT: int = 20
    PAGE_LIMIT_MAX: int = 100

    @property
    def webhook_key(self) -> str:
        return self.WEBHOOK_KEY or self.SECRET_KEY

    @property
    def webhook_allow_private(self) -> bool:
        return self.ENV in ("development", "testing") and self.WEBHOOK_ALLOW_PRIVATE is not False

    @property
    def ratelimit_enabled(self) -> bool:
        return self.ENV != "testing" if self.RATELIMIT_ENABLED is None else self.RATELIMIT_ENABLED

    def as_flask(self) -> dict[str, object]:
        return {
            "SECRET_KEY": self.SECRET_KEY,
            "MAX_CONTENT_LENGTH": self.MAX_CONTENT_LENGTH,
            "O2C": self,
        }
