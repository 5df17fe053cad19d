"""``ENGAGE_*`` values read straight from the environment and ``.env``, the way pydantic-settings reads them.

Read-only commands resolve the database URL and the data folder here without importing pydantic-settings;
``settings.Settings`` holds everything else, with the same prefix, file and defaults (``tests/test_cli_startup.py``
keeps the two resolving the same URL and folder).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_PREFIX = "ENGAGE_"
ENV_FILE = ".env"
DEFAULT_DATA_DIR = Path("engage-data")


def sqlite_url(data_dir: Path) -> str:
    """The default database: a SQLite file inside ``data_dir``."""
    return f"sqlite:///{(data_dir / 'engage.db').resolve()}"


def env_value(name: str) -> str | None:
    """The raw value of ``ENGAGE_<name>``: the environment first, then ``.env``; names in any case."""
    key = (ENV_PREFIX + name).lower()
    found = {k.lower(): v for k, v in os.environ.items()}
    if key in found:
        return found[key]
    if Path(ENV_FILE).is_file():
        from dotenv import dotenv_values

        found = {k.lower(): v for k, v in dotenv_values(ENV_FILE, encoding="utf-8").items()}
        return found.get(key)
    return None


def data_dir() -> Path:
    """The configured data folder: the same as ``Settings().data_dir``, without building it."""
    value = env_value("data_dir")
    return DEFAULT_DATA_DIR if value is None else Path(value)


def database_url() -> str:
    """The configured database URL: the same as ``Settings().resolved_database_url``, without building it."""
    return env_value("database_url") or sqlite_url(data_dir())
