"""Engine settings, read from the environment (prefix ``ENGAGE_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the engine reads from its environment; every field has a working default."""

    model_config = SettingsConfigDict(env_prefix="ENGAGE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("engage-data"), description="Folder for the database, site and mail")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in data_dir")

    secretariat_email: str = "syntheticscoalition@state.example"
    secretariat_name: str = "Global Coalition Secretariat"
    mail_from: str = "Coalition Engage <engage@coalition.example>"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 10.0

    chat_urls: list[str] = Field(default_factory=list, description="apprise URLs for secretariat chat")

    outbox_max_attempts: int = 5
    outbox_backoff_seconds: float = 30.0

    timezone: str = "UTC"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'engage.db').resolve()}"

    @property
    def site_dir(self) -> Path:
        """Where the published static website is written."""
        return self.data_dir / "site"

    @property
    def maildir(self) -> Path:
        """Where the local mail sink writes what it receives."""
        return self.data_dir / "mail"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
