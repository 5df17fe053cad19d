"""Every CLI command with hostile arguments and files: exit 1 (refused, field named) or 2 (usage or unexpected
error), never a traceback, the database unchanged by every refusal, and outside values printed as they are."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

import cli.app
from cli.app import main
from models.base import Base
from models.db import Database
from settings import get_settings

HOSTILE_ARGS = ["x [/] y", "a\x85b\u2028c\x1b[31m", "NUL\x00", "\udcff", "99999999999999999999", "-1", "W" * 5_000]
CHAIR = "swg22.france@cochairs.example"
# Every command, with X where a hostile value goes. Engagement 1 is a planned national dialogue.
COMMANDS = [
    ["show", "X"], ["history", "X"], ["fire", "X", "convene"], ["fire", "1", "X"], ["fire", "1", "hold", "--as", "X"],
    ["fire", "1", "hold", "-m", "X"], ["fire", "1", "hold", "--role", "X"], ["fire", "1", "hold", "--if-version", "X"],
    ["fire", "1", "submit_report", "--data", "X"], ["approve", "X", "--as", CHAIR], ["approve", "1", "--as", "X"],
    ["decline", "1", "--as", CHAIR, "-m", "X"], ["org", "show", "X"], ["org", "list", "--type", "X"],
    ["org", "add", "--name", "Acme", "--type", "partner", "--industry", "X", "--country", "DE"],
    ["org", "add", "--name", "Acme", "--type", "partner", "--industry", "chemical", "--country", "X"],
    ["org", "add", "--name", "Acme", "--type", "X"], ["list", "--kind", "X"], ["list", "--state", "X"],
    ["list", "--limit", "X"], ["outbox", "--status", "X"], ["outbox", "retry", "X"], ["diagram", "X"],
    ["create", "--json", "X"], ["import-partners", "X"], ["load-reference", "X"],
]
# Values some commands rightly accept: the command must then succeed and print them as they are.
MAY_ACCEPT = {("fire", "1", "hold", "-m"), ("org", "show")}


def hostile_files(folder: Path) -> dict[str, Path]:
    """Files no command may choke on."""
    files = {
        "binary.json": bytes(range(256)) * 4, "deep.json": b"[" * 100_000 + b"]" * 100_000,
        "deep-object.json": b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nope.json": b"nope", "array.json": b"[1, 2]",
        "nan.json": b'{"public_partners": NaN}', "huge-int.json": b'{"public_partners": ' + b"9" * 5_000 + b"}",
        "report.json": json.dumps({"held_on": "2024-02-12", "organizing_agency": "A\u2028B", "public_partners": 10**30,
                                   "private_partners": True}).encode(),
        "engagement.json": json.dumps({"kind": "achievement", "title": "x [/] y\x00", "meeting_id": 2**64,
                                       "details": {"summary": "s"}}).encode(),
        "duplicate-header.csv": b"name,name,industry,country\nA,B,chemical,DE\n",
        "unknown-header.csv": b"name,industry,country,shoe_size\nA,chemical,DE,44\n",
        "big-field.csv": b"name,industry,country\n\"" + b"W" * 5_000_000 + b"\",chemical,DE\n",
        "controls.csv": b"name,industry,country,region\nA,chemical,DE,\"North\r\nSouth\"\nB,chemical,DE,x\x00y\n",
        "other-org-contact.csv": b"name,industry,country,contact_name,contact_email\nNew Co,chemical,DE,Eve,policy@meta.example\n",
        "latin1.csv": "name,industry,country\nCaf\u00e9,chemical,FR\n".encode("latin-1"),
        "empty.csv": b"",
    }
    paths = {}
    for name, content in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(content)
    paths["missing"] = folder / "missing.json"
    paths["folder"] = folder
    return paths


def dump(database: Database) -> dict[str, list[tuple[object, ...]]]:
    with database.engine.connect() as connection:
        return {table.name: [tuple(row) for row in connection.execute(text(f'SELECT * FROM "{table.name}" ORDER BY 1'))]
                for table in Base.metadata.sorted_tables}


@pytest.fixture
def cli_db(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str]) -> Iterator[Database]:
    """``db`` (SQLite, then PostgreSQL) as the CLI's database, with the sample loaded and one planned national
    dialogue; wide output for the assertions."""
    monkeypatch.setenv("ENGAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db.url)
    monkeypatch.setattr(cli.app.console, "width", 10_000)
    monkeypatch.setattr(cli.app.errors, "width", 10_000)
    get_settings.cache_clear()
    assert run(["load-sample"], capsys)[0] == 0
    dialogue = {"kind": "national_dialogue", "title": "Mexico national dialogue", "country": "MX",
                "details": {"organizing_agency": "CONADIC"},
                "participants": [{"organization": "Government of Mexico", "role": "organizer"}]}
    assert run(["create", "--json", json.dumps(dialogue)], capsys)[0] == 0
    yield db
    get_settings.cache_clear()


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``engage ARGS`` in this process; (exit code, stdout + stderr)."""
    try:
        main(args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def check_refused_or_accepted(database: Database, args: list[str], capsys: pytest.CaptureFixture[str],
                              may_accept: bool = False) -> tuple[int, str]:
    before = dump(database)
    code, output = run(args, capsys)
    assert "Traceback" not in output, (args, output)
    if code == 0:
        assert may_accept, (args, output)
    else:
        assert code in (1, 2), (args, code, output)
        assert output.strip(), args
        assert dump(database) == before, args
    return code, output


def test_every_command_refuses_hostile_arguments_cleanly(cli_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    for command in COMMANDS:
        slot = command.index("X")
        for value in HOSTILE_ARGS:
            args = [value if part == "X" else part for part in command]
            check_refused_or_accepted(cli_db, args, capsys, tuple(command[:slot]) in MAY_ACCEPT)


def test_every_file_option_refuses_hostile_files_cleanly(cli_db: Database, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    for path in hostile_files(folder).values():
        for command in (["create", "--file", str(path)], ["fire", "1", "submit_report", "--data-file", str(path)],
                        ["import-partners", str(path)], ["load-reference", str(path)]):
            check_refused_or_accepted(cli_db, command, capsys)


@pytest.mark.parametrize(("args", "message"), [
    (["show", "99999999999999999999"], "engagement_id: must be between 1 and 2147483647"),
    (["outbox", "retry", str(2**63)], "message_id: must be between 1 and 2147483647"),
    (["create", "--json", "nope"], "could not read JSON from the --json option"),
    (["fire", "1", "convene", "--data", "[" * 100_000], "--data option: it is nested too deeply"),
    (["create", "--json", json.dumps({"kind": "achievement", "title": "Listed", "meeting_id": True,
                                      "details": {"summary": "s"}})], "meeting_id: Input should be a valid integer"),
    (["create", "--json", json.dumps({
        "kind": "swg_presentation", "title": "Meta presents", "swg_code": "2.2", "details": {"topic": "Detecting"},
        "participants": [{"organization": "Meta", "role": "presenter"}] * 2})], "Meta is listed twice as presenter"),
    (["list", "--state", "sleeping"], "state: 'sleeping' is not a state; choose one of: accepted, approved"),
    (["list", "--kind", "party"], "Invalid value for '--kind': 'party' is not one of 'national_dialogue'"),
    (["org", "add", "--name", "a\u2028b", "--type", "government"], "name: must be a single line"),
])
def test_refusals_name_the_field(cli_db: Database, capsys: pytest.CaptureFixture[str], args: list[str],
                                 message: str) -> None:
    code, output = check_refused_or_accepted(cli_db, args, capsys)
    assert message in " ".join(output.split()), output


def test_files_are_refused_naming_the_line_or_the_json_path(cli_db: Database, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    files = hostile_files(tmp_path)
    for trigger in ("convene", "hold"):  # the report's data is checked once the dialogue can take one
        assert run(["fire", "1", trigger], capsys)[0] == 0
    expected = {
        ("import-partners", "duplicate-header.csv"): "line 1: duplicate column: name",
        ("import-partners", "unknown-header.csv"): "line 1: unknown column: shoe_size",
        ("import-partners", "big-field.csv"): "line 2: a value is longer than the limit of 131,072 characters",
        ("import-partners", "controls.csv"): "line 2: region: must be a single line",
        ("import-partners", "other-org-contact.csv"): "line 2: contact_email: policy@meta.example is already a contact of Meta",
        ("import-partners", "latin1.csv"): "as UTF-8 text",
        ("fire", "report.json"): "data.organizing_agency: must be a single line",
        ("create", "engagement.json"): "title: must be a single line",
        ("create", "binary.json"): "could not read JSON from",
    }
    for (command, name), message in expected.items():
        args = {"import-partners": ["import-partners", str(files[name])],
                "fire": ["fire", "1", "submit_report", "--role", "national_authority", "--as",
                         "enlace@conadic-mx.example", "--data-file", str(files[name])],
                "create": ["create", "--file", str(files[name])]}[command]
        code, output = check_refused_or_accepted(cli_db, args, capsys)
        assert code == 1 and message in " ".join(output.split()), (name, output)
    code, output = run(["import-partners", str(files["controls.csv"])], capsys)
    assert "line 4: region: must be a single line" in output and "nothing was imported" in output


def test_outside_values_are_printed_as_they_are(cli_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("x [/] y", "[bold red]Evil[/bold red] Corp"):
        code, output = run(["org", "add", "--name", name, "--type", "partner", "--industry", "chemical",
                            "--country", "DE", "--region", "[/]"], capsys)
        assert code == 0 and name in output, output
        for args in (["org", "show", name], ["org", "list", "--type", "partner"]):
            code, output = run(args, capsys)
            assert code == 0 and name in output and "[/]" in output, output
    assert run(["fire", "1", "convene", "--as", "[red]x[/] y", "-m", "[/] [bold]b[/bold]"], capsys)[0] == 0
    code, output = run(["history", "1"], capsys)
    assert code == 0 and "[red]x[/] y" in output and "[/] [bold]b[/bold]" in output, output


def test_show_displays_the_report_the_details_and_the_votes(cli_db: Database, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    mexico = ["--role", "national_authority", "--as", "enlace@conadic-mx.example"]
    assert run(["fire", "1", "convene", *mexico], capsys)[0] == 0
    assert run(["fire", "1", "hold", *mexico], capsys)[0] == 0
    report = {"held_on": "2024-02-12", "organizing_agency": "CONADIC [/]", "public_partners": 4, "private_partners": 9,
              "narrative": "Chemical firms met.\nShipping firms too.", "areas_of_discussion": ["precursors"],
              "language": "es"}
    code, output = run(["fire", "1", "submit_report", *mexico, "--data", json.dumps(report)], capsys)
    assert code == 0, output
    presentation = {"kind": "swg_presentation", "title": "Meta presents", "swg_code": "2.2",
                    "details": {"topic": "Detecting [b]sales[/b]"}, "participants": [{"organization": "Meta",
                                                                                       "role": "presenter"}]}
    assert run(["create", "--json", json.dumps(presentation)], capsys)[0] == 0
    assert run(["fire", "2", "request_approval"], capsys)[0] == 0
    assert run(["decline", "2", "--as", CHAIR, "-m", "pas [maintenant]"], capsys)[0] == 0
    code, output = run(["show", "1"], capsys)
    assert code == 0
    for shown in ("dialogue report", "organizing_agency: CONADIC [/]", "public_partners: 4", "Shipping firms too.",
                  '["precursors"]', "language: es"):
        assert shown in output, output
    code, output = run(["show", "2"], capsys)
    assert code == 0
    for shown in ("topic: Detecting [b]sales[/b]", "co-chair votes", CHAIR, "decline", "pas [maintenant]"):
        assert shown in output, output


def test_an_unexpected_error_is_one_line_with_exit_2_and_a_traceback_only_with_debug(
        cli_db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ENGAGE_DATABASE_URL", "nonsense://nowhere")
    get_settings.cache_clear()
    code, output = run(["list"], capsys)
    assert code == 2 and "Traceback" not in output and len(output.strip().splitlines()) == 1, output
    assert "unexpected" in output and "--debug" in output
    code, output = run(["--debug", "list"], capsys)
    assert code == 2 and "Traceback" in output
