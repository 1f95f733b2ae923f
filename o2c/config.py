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
    # Dunning: days overdue at which a reminder, a second reminder and a final notice go out.
    DUNNING_DAYS: tuple[int, ...] = field(default_factory=lambda: tuple(
        int(x) for x in os.environ.get("O2C_DUNNING_DAYS", "1,15,30").split(",")))
    MAX_CONTENT_LENGTH: int = 1024 * 1024
    PAGE_LIMIT_DEFAULT: int = 20
    PAGE_LIMIT_MAX: int = 100

    def as_flask(self) -> dict[str, object]:
        return {
            "SECRET_KEY": self.SECRET_KEY,
            "MAX_CONTENT_LENGTH": self.MAX_CONTENT_LENGTH,
            "O2C": self,
        }
