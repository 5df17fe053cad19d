"""Engine settings, read from the environment (prefix ``ENGAGE_``) or a ``.env`` file."""

from __future__ import annotations

import os
import secrets
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

    public_base_url: str = Field(default="http://127.0.0.1:8000", description="Where mailed links point (the portal)")
    site_url: str = Field(
        default="http://localhost:8080/", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="The published website's public address: its feeds, sitemap and hreflang links are absolute under it",
    )
    secret_key: str | None = Field(default=None, description="Signs links and forms; default: data_dir/secret.key")
    link_lifetime_days: int = Field(default=30, ge=1, description="How long a mailed action link stays valid")
    staff_emails: list[str] = Field(default_factory=list, description="Secretariat staff who may sign in to the board")
    session_hours: int = Field(default=8, ge=1, description="How long a portal sign-in lasts")
    prefect_ui_url: str | None = Field(default=None, description="Prefect UI base URL for links to flow runs")

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

    @property
    def upload_dir(self) -> Path:
        """Where uploaded files are kept, named by their sha256 (outside the published site)."""
        return self.data_dir / "uploads"

    def signing_key(self) -> bytes:
        """``secret_key``, or the key kept in ``data_dir/secret.key`` (created once, mode 0600)."""
        if self.secret_key:
            return self.secret_key.encode()
        return _key_file((self.data_dir / "secret.key").resolve())


@lru_cache(maxsize=8)
def _key_file(path: Path) -> bytes:
    """The key kept in ``path``, written once with mode 0600 if it does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
