"""Settings from the environment, in one class."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEV_SECRET = "dev-only-insecure-secret-key"


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
    # Web sessions: how long a sign-in lasts, and whether the cookie is sent
    # over HTTPS only (on by default outside development and testing).
    SESSION_HOURS: int = field(default_factory=lambda: int(os.environ.get("O2C_SESSION_HOURS", "8")))
    SESSION_COOKIE_SECURE: bool = field(default_factory=lambda: os.environ.get(
        "O2C_SESSION_COOKIE_SECURE", "").lower() in ("1", "true", "yes") or os.environ.get(
        "O2C_ENV", "development") not in ("development", "testing"))
    MAX_CONTENT_LENGTH: int = 1024 * 1024
    PAGE_LIMIT_DEFAULT: int = 20
    PAGE_LIMIT_MAX: int = 100

    def as_flask(self) -> dict[str, object]:
        return {
            "SECRET_KEY": self.SECRET_KEY,
            "MAX_CONTENT_LENGTH": self.MAX_CONTENT_LENGTH,
            "O2C": self,
        }
