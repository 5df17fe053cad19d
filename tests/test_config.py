"""Settings from the environment and env files: one format for sh, systemd and the settings, every bad value named
at once by `engage check-config`, and commands that refuse bad settings before doing anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values

from cli.config import env_file_problems, load_settings
from settings import Settings

PROJECT = Path(__file__).resolve().parents[1]
TEMPLATE = PROJECT / "deploy" / "engage.env.example"
#: The README's earlier advice, pasted as an operator would: JSON lists with spaces, unquoted.
BROKEN_LINES = (
    "ENGAGE_DATA_DIR=/srv/engage\n"
    'ENGAGE_CHAT_URLS=["json://alerts.example/a", "json://alerts.example/b"]\n'
    "ENGAGE_MAIL_FROM=Coalition Engage <engage@coalition.example>\n"
    "ENGAGE_CHAT_URL=json://alerts.example/typo\n"
)


def engage(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``engage ARGS`` in a process of its own, with exactly ``env``'s ENGAGE_* variables."""
    kept = {key: value for key, value in os.environ.items() if not key.upper().startswith("ENGAGE_")}
    return subprocess.run([sys.executable, "-c", "import sys; from cli.app import main; sys.exit(main())", *args],
                          cwd=cwd, env=kept | {"PYTHONPATH": str(PROJECT), "COLUMNS": "200"} | env,
                          capture_output=True, text=True, timeout=120)


def sourced(path: Path) -> tuple[dict[str, str], str]:
    """The ENGAGE_* variables ``set -a; . FILE`` gives a POSIX shell, and what the shell said."""
    done = subprocess.run(["sh", "-c", 'set -a; . "$1"; set +a; env', "sh", str(path)], env={"PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=30)
    found = dict(line.split("=", 1) for line in done.stdout.splitlines() if line.startswith("ENGAGE_"))
    return found, done.stderr


def test_the_template_reads_the_same_in_sh_and_in_the_settings(tmp_path: Path) -> None:
    assert env_file_problems(TEMPLATE) == []
    in_shell, complaints = sourced(TEMPLATE)
    assert complaints == ""
    from_file = {name: value for name, value in dotenv_values(TEMPLATE).items() if value is not None}
    assert in_shell == from_file and len(in_shell) >= 15
    assert in_shell["ENGAGE_MAIL_FROM"] == "Coalition Engage <engage@coalition.example>"

    from_environment = Settings(**{name.removeprefix("ENGAGE_").lower(): value for name, value in in_shell.items()})
    settings, problems = load_settings(TEMPLATE)
    assert problems == [] and settings is not None
    assert settings.shown() == from_environment.shown()
    assert settings.chat_urls == ["mmosts://engage:CHANGE-ME@chat.coalition.example/secretariat"]
    assert settings.prefect_form_trusted == ["swg22.france@cochairs.example", "swg22.unodc@cochairs.example"]

    done = engage(["check-config", "--env-file", str(TEMPLATE)], {}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "configuration OK" in done.stdout and "CHANGE-ME" not in done.stdout + done.stderr


@pytest.mark.parametrize("text", [
    "json://a.example/x,json://b.example/y", " json://a.example/x , json://b.example/y ,",
    '["json://a.example/x","json://b.example/y"]', '[ "json://a.example/x", "json://b.example/y" ]',
])
def test_list_settings_are_comma_separated_or_json(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGAGE_CHAT_URLS", text)
    assert Settings().chat_urls == ["json://a.example/x", "json://b.example/y"]
    monkeypatch.setenv("ENGAGE_CHAT_URLS", "")
    assert Settings().chat_urls == []


def test_check_config_names_every_bad_value_and_never_shows_one(tmp_path: Path) -> None:
    bad = {
        "ENGAGE_SMTP_PORT": "smtp-port-Secret1",
        "ENGAGE_CHAT_URLS": '["json://u:Chat-Secret2@alerts.example/a",',  # what sh left of a JSON list with spaces
        "ENGAGE_DATABASE_URL": "mysql://root:Db-Secret3@db.example/engage",
        "ENGAGE_STAFF_EMAILS": "staff@state.example,Staff-Secret4",
        "ENGAGE_TIMEZONE": "Zone-Secret5",
        "ENGAGE_PUBLIC_BASE_URL": "ftp://Url-Secret6.example",
        "ENGAGE_OUTBOX_POOL_SIZE": "0",
    }
    done = engage(["check-config"], bad, tmp_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    for name in bad:
        assert any(line.startswith(f"{name}: ") for line in lines), (name, done.stderr)
    assert "7 problem(s)" in done.stderr
    output = done.stdout + done.stderr
    assert not [value for value in bad.values() if value in output]
    assert not [secret for secret in ("Secret1", "Secret2", "Secret3", "Secret4", "Secret5", "Secret6") if secret in output]


def test_check_config_names_the_env_file_lines_sh_and_systemd_would_misread(tmp_path: Path) -> None:
    env_file = tmp_path / "engage.env"
    env_file.write_text(BROKEN_LINES, encoding="utf-8")
    _, complaints = sourced(env_file)
    assert complaints  # sh ran pieces of the values as commands

    done = engage(["check-config", "--env-file", str(env_file)], {}, tmp_path)

    assert done.returncode == 1
    assert "line 2 (ENGAGE_CHAT_URLS): put the value in single quotes" in done.stderr
    assert "line 3 (ENGAGE_MAIL_FROM): put the value in single quotes" in done.stderr
    assert "line 4 (ENGAGE_CHAT_URL): not a setting of the engine" in done.stderr
    assert "line 1" not in done.stderr

    env_file.write_text(
        "ENGAGE_DATA_DIR=/srv/engage\n"
        """ENGAGE_CHAT_URLS='["json://alerts.example/a", "json://alerts.example/b"]'\n"""
        "ENGAGE_MAIL_FROM='Coalition Engage <engage@coalition.example>'\n", encoding="utf-8")
    in_shell, complaints = sourced(env_file)
    assert complaints == "" and in_shell["ENGAGE_CHAT_URLS"].startswith('["json://alerts.example/a", ')
    done = engage(["check-config", "--env-file", str(env_file)], {}, tmp_path)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("command", [["migrate"], ["load-sample"], ["serve", "--port", "1"],
                                     ["create", "--json", '{"kind": "achievement", "title": "x"}']])
def test_commands_refuse_bad_settings_before_touching_the_database(command: list[str], tmp_path: Path) -> None:
    env = {"ENGAGE_DATA_DIR": str(tmp_path / "data"), "ENGAGE_CHAT_URLS": '["json://alerts.example/a",',
           "ENGAGE_SMTP_PORT": "not-a-port"}
    done = engage(command, env, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ENGAGE_CHAT_URLS: not a JSON list" in done.stderr and "ENGAGE_SMTP_PORT: " in done.stderr
    assert "2 bad setting(s); nothing done" in done.stderr
    assert not (tmp_path / "data" / "engage.db").exists()
