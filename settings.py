"""Engine settings, read from the environment (prefix ``ENGAGE_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from environment import DEFAULT_DATA_DIR, ENV_FILE, ENV_PREFIX, sqlite_url


class Settings(BaseSettings):
    """Everything the engine reads from its environment; every field has a working default."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=ENV_FILE, extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Folder for the database, site and mail")
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
    prefect_form_trusted: list[str] = Field(
        default_factory=list,
        description="Co-chair e-mails whose decisions the Prefect UI form accepts ('*': anyone); default: none",
    )

    outbox_max_attempts: int = Field(default=5, ge=1, description="Attempts charged to a row before it is dead")
    outbox_backoff_seconds: float = Field(default=30.0, ge=0, description="First retry delay of a refused row")
    outbox_pool_size: int = Field(default=4, ge=1, le=64, description="SMTP connections a dispatcher sends over")
    outbox_pause_seconds: float = Field(default=15.0, ge=0, description="First pause of a channel found unreachable")
    outbox_pause_max_seconds: float = Field(default=300.0, ge=0, description="Longest pause of an unreachable channel")
    outbox_outage_escalation_seconds: float = Field(
        default=900.0, ge=0, description="Outage length that raises one escalation to the secretariat"
    )

    timezone: str = "UTC"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside ``data_dir``."""
        return self.database_url or sqlite_url(self.data_dir)

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
