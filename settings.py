"""Engine settings, read from the environment (prefix ``ENGAGE_``) or a ``.env`` file.

List settings (``ENGAGE_CHAT_URLS``, ``ENGAGE_STAFF_EMAILS``, ``ENGAGE_PREFECT_FORM_TRUSTED``) take either a
comma-separated list (``a,b``) or a JSON list (``["a","b"]``). A bad value is reported by its setting's
name and why, never with the value itself (`setting_problems`); secrets are shown masked (`Settings.shown`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.db import MASK, masked_url

ENV_PREFIX = "ENGAGE_"
#: Settings whose whole value is a secret: shown as ``***`` when set.
SECRET_SETTINGS = frozenset({"smtp_password", "secret_key", "imap_password"})
_SCHEME_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
_HTTP_URL = re.compile(r"^https?://[^\s/]+", re.IGNORECASE)


def _listed(value: Any) -> Any:  # noqa: ANN401 - raw setting
    """A list setting from its text: JSON if it starts with ``[``, else comma-separated items."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError as error:
            raise ValueError(f"not a JSON list ({error.msg} at character {error.pos}); write a comma-separated "
                             "list, or the JSON list in single quotes in the env file") from None
    return [item.strip() for item in text.split(",") if item.strip()]


#: A list read from comma-separated text or a JSON list (see `_listed`).
ListSetting = Annotated[list[str], NoDecode]


def masked_chat_url(url: str) -> str:
    """An apprise URL as it may be shown: its scheme only (apprise URLs carry tokens in any part)."""
    scheme, found, _ = url.partition("://")
    return f"{scheme}://{MASK}" if found else MASK


class Settings(BaseSettings):
    """Everything the engine reads from its environment; every field has a working default."""

    # hide_input_in_errors: a validation error never repeats a value (it may be a password or a URL holding one).
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", hide_input_in_errors=True)

    data_dir: Path = Field(default=Path("engage-data"), description="Folder for the database, site and mail")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in data_dir")

    secretariat_email: str = "syntheticscoalition@state.example"
    secretariat_name: str = "Global Coalition Secretariat"
    reply_to: str | None = Field(default=None, description="Reply-To of mails to partners and co-chairs; "
                                 "default: secretariat_email (the mailbox whose replies are read)")
    mail_from: str = "Coalition Engage <engage@coalition.example>"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 10.0

    chat_urls: ListSetting = Field(default_factory=list, description="apprise URLs for secretariat chat")
    prefect_form_trusted: ListSetting = Field(
        default_factory=list,
        description="Co-chair e-mails whose decisions the Prefect UI form accepts ('*': anyone); default: none",
    )

    outbox_max_attempts: int = Field(default=5, ge=1, description="Attempts charged to a row before it is dead")
    outbox_backoff_seconds: float = Field(default=30.0, ge=0, description="First retry delay of a refused row")
    outbox_pool_size: int = Field(default=4, ge=1, le=64, description="SMTP connections a dispatcher sends over")
    outbox_lease_seconds: float = Field(
        default=120.0, ge=1, description="How long claimed rows stay a dispatcher's (at least 3 SMTP timeouts) "
        "before another may deliver them, should it stop",
    )
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
    staff_emails: ListSetting = Field(default_factory=list, description="Secretariat staff who may sign in to the board")
    readonly_staff_emails: ListSetting = Field(
        default_factory=list, description="Secretariat staff who may sign in to read the desk, and change nothing",
    )
    session_hours: int = Field(default=8, ge=1, description="How long a portal sign-in lasts")
    portal_threads: int = Field(
        default=4, ge=1, le=64,
        description="Requests a portal worker runs at once; the others wait their turn (more only contend for the "
                    "interpreter's lock and the database's locks: 20 clients at 40 threads, a decision's p95 doubled)",
    )
    prefect_ui_url: str | None = Field(default=None, description="Prefect UI base URL for links to flow runs")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks of the reverse proxies whose X-Forwarded-For names the client; default: none",
    )
    unsubscribe_lifetime_days: int = Field(default=90, ge=1, description="How long a mailed unsubscribe link stays valid")
    public_confirmations_per_hour: int = Field(
        default=100, ge=1,
        description="Confirmation mails the public forms and the mailbox may cause in any hour, to all addresses together",
    )

    imap_host: str | None = Field(default=None, description="IMAP server of the Secretariat's mailbox; unset: no intake")
    imap_port: int = Field(default=993, ge=1, le=65535, description="IMAP port (993 with SSL, 143 without)")
    imap_ssl: bool = Field(default=True, description="IMAP over TLS (off only for a server on localhost)")
    imap_username: str | None = None
    imap_password: str | None = Field(default=None, description="Never in a deployment file: the worker's environment")
    imap_folder: str = Field(default="INBOX", description="The folder the intake reads")
    imap_address: str | None = Field(
        default=None, description="The mailbox's address; when set, mails that ask an answer carry Reply-To: its +token form",
    )

    _lists = field_validator("chat_urls", "prefect_form_trusted", "staff_emails", "readonly_staff_emails",
                             mode="before")(_listed)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if not value:
            return value
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("not a database URL (dialect+driver://user:password@host:port/database)") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"the engine runs on sqlite or postgresql, not {backend}")
        return value

    @field_validator("chat_urls")
    @classmethod
    def _chat_urls(cls, value: list[str]) -> list[str]:
        bad = [str(number) for number, url in enumerate(value, 1) if not _SCHEME_URL.match(url)]
        if bad:
            raise ValueError(f"item(s) {', '.join(bad)} not an apprise URL (scheme://...)")
        return value

    @field_validator("staff_emails", "readonly_staff_emails", "prefect_form_trusted")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [str(number) for number, address in enumerate(value, 1) if "@" not in address and address != "*"]
        if bad:
            raise ValueError(f"item(s) {', '.join(bad)} not an e-mail address")
        return value

    @field_validator("public_base_url", "prefect_ui_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not _HTTP_URL.match(value):
            raise ValueError("not an http:// or https:// address")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a time zone name (such as UTC or Europe/Vienna)") from None
        return value

    def shown(self) -> dict[str, str]:
        """Every setting by its environment name, as it may be printed: passwords, keys and chat tokens masked."""
        values: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in SECRET_SETTINGS:
                text = MASK if value else ""
            elif name == "chat_urls":
                text = ",".join(masked_chat_url(url) for url in value)
            elif isinstance(value, list):
                text = ",".join(value)
            elif isinstance(value, str):
                text = masked_url(value)
            else:
                text = "" if value is None else str(value)
            values[ENV_PREFIX + name.upper()] = text
        return values

    @property
    def reply_address(self) -> str:
        """Where answers to the engine's mails go: ``reply_to``, else the Secretariat's address."""
        return self.reply_to or self.secretariat_email

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


def setting_problems(error: ValidationError) -> list[str]:
    """Each bad value of a ``Settings`` validation error as ``ENGAGE_NAME: why`` (never the value)."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False):
        name = ENV_PREFIX + str(problem["loc"][0]).upper() if problem["loc"] else "settings"
        problems.append(f"{name}: {problem['msg'].removeprefix('Value error, ')}")
    return problems


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
