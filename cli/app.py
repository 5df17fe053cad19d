"""The ``engage`` command line (Typer + Rich). Read-only commands import neither Prefect nor Alembic."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from models.db import Database

app = typer.Typer(help="Coalition Engage: private-sector engagements of the Global Coalition.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
org_app = typer.Typer(help="Organizations and their contacts.", no_args_is_help=True)
outbox_app = typer.Typer(help="Notifications waiting, sent, or dead-lettered.", invoke_without_command=True)
app.add_typer(org_app, name="org")
app.add_typer(outbox_app, name="outbox")

console = Console()
errors = Console(stderr=True)

RoleOption = Annotated[str, typer.Option("--role", help="secretariat, co_chair, partner, national_authority or system")]
AsOption = Annotated[str, typer.Option("--as", help="Who acts: an e-mail address (a name for secretariat/system)")]
CommentOption = Annotated[Optional[str], typer.Option("--comment", "-m", help="Why: kept in the audit trail")]


def fail(message: str) -> None:
    """Print a refusal and exit 1."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


def open_db(*, migrate: bool = False) -> Database:
    """The configured database; writers bring its schema up to date first."""
    from cli.environment import database_url
    from models.db import Database

    database = Database(database_url())
    if migrate:
        database.migrate()
    else:
        from sqlalchemy import inspect

        if not inspect(database.engine).has_table("engagements"):
            fail("the database has no schema yet: run `engage load-sample` (or `engage migrate`) first")
    return database


def run(action: Any) -> Any:  # noqa: ANN401 - passes the action's result through
    """Run ``action``, turning a refusal of the engine into a one-line message."""
    from states.errors import EngageError

    try:
        return action()
    except EngageError as error:
        fail(str(error))


def read_json(path: Path | None, inline: str | None) -> dict[str, Any] | None:
    """JSON from a file or a command-line string."""
    if path is None and inline is None:
        return None
    try:
        text = path.read_text(encoding="utf-8") if path else inline
        value = json.loads(text or "")
    except (OSError, json.JSONDecodeError) as error:
        fail(f"could not read JSON from {path or 'the --data option'}: {error}")
    if not isinstance(value, dict):
        fail("the JSON must be an object")
    return value


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    database = open_db(migrate=True)
    console.print(f"schema up to date: {database.url}")


@app.command("load-sample")
def load_sample() -> None:
    """Load the reference data (WGs, SWGs, co-chairs, windows) and a realistic sample of partners and meetings."""
    from states.directory import load_sample as load

    counts = run(lambda: load(open_db(migrate=True)))
    console.print(", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items()))


@app.command("load-reference")
def load_reference(path: Annotated[Path, typer.Argument(help="A reference JSON file")]) -> None:
    """Load organizations, working groups, SWGs with co-chairs and submission windows from JSON."""
    from states.directory import load_reference as load

    data = read_json(path, None)
    counts = run(lambda: load(open_db(migrate=True), data))
    console.print(", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items()))


@app.command("import-partners")
def import_partners(path: Annotated[Path, typer.Argument(help="CSV with name,industry,country[,region,contact_*]")]) -> None:
    """Import partner organizations and contacts from CSV: every bad row is reported, and then nothing is written."""
    from states.directory import import_partners_csv

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"could not read {path}: {error}")
    report = run(lambda: import_partners_csv(open_db(migrate=True), text))
    if report.errors:
        for line in report.errors:
            errors.print(f"[red]{line}[/]", highlight=False)
        fail(f"{len(report.errors)} bad row(s) in {path}; nothing was imported")
    console.print(f"imported {report.organizations} organizations and {report.contacts} contacts")


@org_app.command("list")
def org_list(type: Annotated[Optional[str], typer.Option(help="partner, government or international_organization")] = None) -> None:
    """List organizations."""
    from states.queries import list_organizations

    database = open_db()
    with database.sessions() as session:
        table = Table("name", "type", "industry", "country", "region", "contacts")
        for organization, contacts in list_organizations(session, type=type):
            table.add_row(organization.name, organization.type, organization.industry or "", organization.country or "",
                          organization.region or "", str(contacts))
    console.print(table)


@org_app.command("show")
def org_show(name: Annotated[str, typer.Argument(help="The organization's exact name")]) -> None:
    """Show an organization and its contacts."""
    from states.queries import get_organization

    database = open_db()
    with database.sessions() as session:
        organization = run(lambda: get_organization(session, name))
        console.print(f"[bold]{organization.name}[/] ({organization.type}, {organization.industry or '-'}, "
                      f"{organization.country or '-'})", highlight=False)
        table = Table("contact", "e-mail", "language", "opted out of")
        for contact in organization.contacts:
            table.add_row(contact.name, contact.email, contact.language, ", ".join(contact.opt_outs or []))
        console.print(table)


@org_app.command("add")
def org_add(
    name: Annotated[str, typer.Option(help="Organization name")],
    type: Annotated[str, typer.Option(help="partner, government or international_organization")],
    industry: Annotated[Optional[str], typer.Option(help="For partners: chemical, shipping, ...")] = None,
    country: Annotated[Optional[str], typer.Option(help="ISO 3166-1 alpha-2 code")] = None,
    region: Annotated[Optional[str], typer.Option()] = None,
) -> None:
    """Add (or update) an organization."""
    from states.directory import upsert_organization
    from states.inputs import OrganizationInput, parse

    data = run(lambda: parse(OrganizationInput, {"name": name, "type": type, "industry": industry, "country": country,
                                                 "region": region}))
    database = open_db(migrate=True)
    with database.transaction() as session:
        organization = run(lambda: upsert_organization(session, data))
        console.print(f"organization {organization.id}: {organization.name}")


@app.command("list")
def list_(
    kind: Annotated[Optional[str], typer.Option(help="Only this kind")] = None,
    state: Annotated[Optional[str], typer.Option(help="Only in this state")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 200,
) -> None:
    """List engagements, newest first."""
    from states.queries import list_engagements

    database = open_db()
    with database.sessions() as session:
        table = Table("id", "kind", "state", "title", "SWG", "updated")
        for row in list_engagements(session, kind=kind, state=state, limit=limit):
            table.add_row(str(row.id), row.kind, row.state, row.title, row.swg_code or "", f"{row.updated_at:%Y-%m-%d}")
    console.print(table)


@app.command()
def show(engagement_id: Annotated[int, typer.Argument(help="Engagement id")]) -> None:
    """Show an engagement: state, details, participants, and what can happen next."""
    from states.lifecycles import get_lifecycle
    from states.queries import get_engagement, participants

    database = open_db()
    with database.sessions() as session:
        row = run(lambda: get_engagement(session, engagement_id))
        lifecycle = get_lifecycle(row.kind)
        console.print(f"[bold]#{row.id} {row.title}[/]", highlight=False)
        console.print(f"{lifecycle.title}: [cyan]{row.state}[/] ({lifecycle.state(row.state).description}); "
                      f"version {row.version}", highlight=False)
        if row.swg_code:
            console.print(f"SWG {row.swg_code}")
        if row.next_due_at:
            console.print(f"next reminder, escalation or expiry due {row.next_due_at:%Y-%m-%d %H:%M} UTC "
                          f"({row.reminders_sent} reminder(s) sent)")
        for key, value in (row.details or {}).items():
            console.print(f"  {key}: {value}", highlight=False)
        table = Table("organization", "role", "contact")
        for participant, organization, contact in participants(session, row.id):
            table.add_row(organization.name, participant.role, contact.email if contact else "(all contacts)")
        console.print(table)
        steps = lifecycle.transitions_from(row.state)
        if steps:
            console.print("next: " + ", ".join(
                f"{t} ({'/'.join(sorted({r.value for s in steps if s.trigger == t for r in s.roles}))})"
                for t in dict.fromkeys(s.trigger for s in steps)
            ), highlight=False)


@app.command()
def create(
    path: Annotated[Optional[Path], typer.Option("--file", "-f", help="JSON file describing the engagement")] = None,
    data: Annotated[Optional[str], typer.Option("--json", help="The same JSON, inline")] = None,
    role: RoleOption = "secretariat",
    identity: AsOption = "secretariat",
) -> None:
    """Create an engagement from JSON: kind, title, swg_code, meeting_id, country, details, participants."""
    from states.workflow import create_engagement

    spec = read_json(path, data)
    if spec is None:
        fail("give the engagement as --file FILE or --json '{...}'")
    database = open_db(migrate=True)
    engagement_id = run(lambda: create_engagement(database, spec, {"role": role, "identity": identity}))
    console.print(f"created engagement {engagement_id}")


def _fire(engagement_id: int, trigger: str, role: str, identity: str, comment: str | None,
          data: dict[str, Any] | None, expected_version: int | None = None) -> None:
    from states.workflow import apply_transition

    database = open_db(migrate=True)
    outcome = run(lambda: apply_transition(
        database, engagement_id, trigger, {"role": role, "identity": identity}, comment=comment, data=data,
        expected_version=expected_version,
    ))
    moved = f"{outcome.from_state} -> {outcome.to_state}" if outcome.from_state != outcome.to_state else \
        f"stays {outcome.to_state}"
    console.print(f"#{outcome.engagement_id} {trigger}: {moved} (version {outcome.version}, "
                  f"{outcome.notifications} notification(s) queued)", highlight=False)


@app.command()
def fire(
    engagement_id: Annotated[int, typer.Argument(help="Engagement id")],
    trigger: Annotated[str, typer.Argument(help="The step to take, e.g. convene, submit_report, publish")],
    role: RoleOption = "secretariat",
    identity: AsOption = "secretariat",
    comment: CommentOption = None,
    data: Annotated[Optional[str], typer.Option("--data", help="JSON data the step takes (e.g. a report)")] = None,
    data_file: Annotated[Optional[Path], typer.Option("--data-file", help="The same, from a file")] = None,
    expected_version: Annotated[Optional[int], typer.Option("--if-version", help="Refuse if it changed since")] = None,
) -> None:
    """Fire a trigger on an engagement as an actor."""
    _fire(engagement_id, trigger, role, identity, comment, read_json(data_file, data), expected_version)


def _decide(engagement_id: int, identity: str, decision: str, comment: str | None) -> None:
    """A co-chair's decision through the same domain function as every other channel."""
    from states.approvals import record_decision

    database = open_db(migrate=True)
    result = run(lambda: record_decision(database, engagement_id, identity, decision, comment))
    style = "green" if result.applied else "yellow"
    console.print(f"[{style}]{result.message}[/] (engagement {engagement_id} is {result.state})", highlight=False)


@app.command()
def approve(
    engagement_id: Annotated[int, typer.Argument(help="Engagement id")],
    identity: Annotated[str, typer.Option("--as", help="The co-chair's e-mail address")],
    comment: CommentOption = None,
) -> None:
    """Approve, as a co-chair of the engagement's SWG, an invitation to present."""
    _decide(engagement_id, identity, "approve", comment)


@app.command()
def decline(
    engagement_id: Annotated[int, typer.Argument(help="Engagement id")],
    identity: Annotated[str, typer.Option("--as", help="The co-chair's e-mail address")],
    comment: CommentOption = None,
) -> None:
    """Decline, as a co-chair of the engagement's SWG, an invitation to present."""
    _decide(engagement_id, identity, "decline", comment)


@app.command()
def history(engagement_id: Annotated[int, typer.Argument(help="Engagement id")]) -> None:
    """Show an engagement's audit trail: who did what, when, why, through which channel or flow run."""
    from states.queries import history as trail

    database = open_db()
    with database.sessions() as session:
        table = Table("when (UTC)", "trigger", "from", "to", "actor", "role", "channel", "flow run", "comment")
        for log in run(lambda: trail(session, engagement_id)):
            table.add_row(f"{log.at:%Y-%m-%d %H:%M}", log.trigger, log.from_state, log.to_state, log.actor,
                          log.actor_role, log.channel, log.flow_run_id or "", log.comment or "")
    console.print(table)


@app.command()
def diagram(kind: Annotated[str, typer.Argument(help="Engagement kind, e.g. swg_presentation; 'all' for every kind")]) -> None:
    """Print the Mermaid state diagram of a lifecycle."""
    from states.diagram import mermaid
    from states.lifecycles import LIFECYCLES, get_lifecycle

    kinds = list(LIFECYCLES) if kind == "all" else [kind]
    for name in kinds:
        lifecycle = run(lambda: get_lifecycle(name))
        sys.stdout.write(mermaid(lifecycle))


@app.command()
def demo(
    data_dir: Annotated[Optional[Path], typer.Option(help="Where everything goes (default: ENGAGE_DATA_DIR or ./engage-data)")] = None,
) -> None:
    """The main job: replay the Coalition's 2024 private-sector engagements through the Prefect flows."""
    from flows.demo import run_demo
    from settings import get_settings

    run_demo(data_dir or get_settings().data_dir, console=console)


@outbox_app.callback()
def outbox(
    ctx: typer.Context,
    status: Annotated[Optional[str], typer.Option(help="pending, sending, sent, dead or suppressed")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """List notifications, newest first: pending, sent, failed (dead-lettered) and suppressed."""
    if ctx.invoked_subcommand is not None:
        return
    from notifications.dispatcher import list_outbox

    try:
        rows = list_outbox(open_db(), status=status, limit=limit)
    except ValueError as error:
        fail(str(error))
    table = Table("id", "status", "type", "to", "lang", "attempts", "engagement", "why / last error")
    for row in rows:
        table.add_row(str(row.id), row.status, row.notification_type, row.recipient_address, row.language,
                      str(row.attempts), str(row.engagement_id or ""), row.last_error or row.status_reason or "")
    console.print(table)


@outbox_app.command("retry")
def outbox_retry(message_id: Annotated[int, typer.Argument(help="Outbox message id")]) -> None:
    """Requeue a dead-lettered (or any unsent) notification for delivery."""
    from notifications.dispatcher import requeue
    from notifications.errors import OutboxAlreadySent, OutboxMessageNotFound

    try:
        row = requeue(open_db(), message_id)
    except (OutboxMessageNotFound, OutboxAlreadySent) as error:
        fail(str(error))
    console.print(f"outbox message {row.id} to {row.recipient_address} is pending again")


def main() -> None:
    """Entry point of the ``engage`` console script."""
    app()
