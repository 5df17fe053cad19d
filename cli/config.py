"""Checking the engine's settings: ``engage check-config`` and the refusal of commands built on bad settings.

An env file is read the same way by ``set -a; . FILE`` (sh), systemd's ``EnvironmentFile=`` and the
settings (python-dotenv) only if each value is either plain (letters, digits and ``_@%+=:,./-``) or in
single quotes; `env_file_problems` names every line outside that common ground.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from settings import Settings

_ASSIGNMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")
_PLAIN = re.compile(r"^[A-Za-z0-9_@%+=:,./-]*$")
_SINGLE_QUOTED = re.compile(r"^'[^']*'$")
#: ``ENGAGE_*`` names an env file may hold that are not settings: the CLI's flag, the deployments' folder.
OTHER_NAMES = frozenset({"ENGAGE_DEBUG", "ENGAGE_PROJECT_DIR"})


def env_file_problems(path: Path) -> list[str]:
    """Every line of the env file at ``path`` that sh, systemd and the settings would not read alike, and every
    ``ENGAGE_*`` name that is no setting (a typo); never a value."""
    from settings import ENV_PREFIX, Settings

    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | OTHER_NAMES
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        assignment = _ASSIGNMENT.match(text)
        if assignment is None:
            problems.append(f"line {number}: not NAME=value")
            continue
        name, value = assignment["name"], assignment["value"]
        if not (_PLAIN.match(value) or _SINGLE_QUOTED.match(value)):
            problems.append(f"line {number} ({name}): put the value in single quotes (it holds spaces, quotes or "
                            "shell characters, which sh and systemd read differently)")
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known:
            problems.append(f"line {number} ({name}): not a setting of the engine")
    return problems


def load_settings(env_file: Path | None = None) -> tuple[Settings | None, list[str]]:
    """The settings from the environment and ``.env`` (with ``env_file``'s values over them), or every bad value."""
    from pydantic import ValidationError

    from settings import ENV_PREFIX, Settings, setting_problems

    overrides = {}
    if env_file is not None:
        from dotenv import dotenv_values

        overrides = {name[len(ENV_PREFIX):].lower(): value for name, value in dotenv_values(env_file).items()
                     if name.upper().startswith(ENV_PREFIX) and value is not None
                     and name[len(ENV_PREFIX):].lower() in Settings.model_fields}
    try:
        return Settings(**overrides), []
    except ValidationError as error:
        return None, setting_problems(error)


def checked_settings() -> Settings:
    """The process's settings; on a bad value, every bad setting is named and the command exits 1."""
    from pydantic import ValidationError

    from cli.output import errors, fail, shown
    from settings import get_settings, setting_problems

    try:
        return get_settings()
    except ValidationError as error:
        problems = setting_problems(error)
        for problem in problems:
            errors.print(shown(problem), style="red", highlight=False, soft_wrap=True)
        fail(f"{len(problems)} bad setting(s); nothing done (`engage check-config` checks them)")


@click.command("check-config")
@click.option("--env-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also check this env file (its values over the environment's), as systemd and sh read it")
def check_config(env_file: Path | None) -> None:
    """Check every setting (ENGAGE_* variables, .env, an env file): list each bad one, exit 1 if any."""
    from cli.output import console, errors, fail, shown

    problems = env_file_problems(env_file) if env_file is not None else []
    settings, bad_values = load_settings(env_file)
    problems += bad_values
    if problems:
        for problem in problems:
            errors.print(shown(problem), style="red", highlight=False, soft_wrap=True)
        fail(f"{len(problems)} problem(s) in the configuration")
    assert settings is not None
    for name, value in settings.shown().items():
        console.print(shown(f"{name}={value}"), highlight=False, soft_wrap=True)
    console.print("configuration OK", style="green")
