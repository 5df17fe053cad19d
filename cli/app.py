"""The ``engage`` command line (Click + Rich). Read-only commands read through ``states.queries`` (no SQLAlchemy)."""

from __future__ import annotations

import json
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table
from rich.text import Text

from cli.config import check_config
from cli.output import console, errors, fail, shown
from models.enums import EngagementKind, OrganizationType, OutboxStatus

if TYPE_CHECKING:
    from enum import StrEnum

    from models.db import Database
    from states.queries import Reader

debug_mode = False
"""Set by ``--debug``: an unexpected error shows its full traceback."""


def choice_of(vocabulary: type[StrEnum]) -> click.Choice:
    """The values of ``vocabulary`` as a choice: any other value is a usage error (exit 2) listing them."""
    return click.Choice([member.value for member in vocabulary])


def path(value: str) -> Path:
    """A file path from the command line; one the system cannot name (a NUL byte) is a usage error."""
    if "\x00" in value:
        raise ValueError("embedded null byte")
    return Path(value)


role_option = click.option("--role", default="secretariat",
                           help="secretariat, co_chair, partner, national_authority or system")
as_option = click.option("--as", "identity", default="secretariat",
                         help="Who acts: an e-mail address (a name for secretariat/system)")
comment_option = click.option("--comment", "-m", help="Why: kept in the audit trail")


@click.group(name="engage", context_settings={"show_default": True})
@click.option("--debug", is_flag=True, envvar="ENGAGE_DEBUG", show_envvar=True,
              help="Show the full traceback of an unexpected error")
def app(debug: bool) -> None:
    """Coalition Engage: private-sector engagements of the Global Coalition."""
    global debug_mode
    debug_mode = debug


@app.group("org")
def org_app() -> None:
    """Organizations and their contacts."""


def open_db(*, migrate: bool = False) -> Database:
    """The configured database; writers bring its schema up to date first. Refuses, naming them, bad settings."""
    from cli.config import checked_settings
    from cli.environment import database_url
    from models.db import Database

    checked_settings()
    database = Database(database_url())
    if migrate:
        database.migrate()
    else:
        from sqlalchemy import inspect

        if not inspect(database.engine).has_table("engagements"):
            fail("the database has no schema yet: run `engage load-sample` (or `engage migrate`) first")
    return database


def open_reader() -> Reader:
    """The configured database through the read path of the read-only commands (no SQLAlchemy)."""
    from cli.environment import database_url
    from states.queries import Reader

    reader = Reader(database_url())
    if not reader.has_schema():
        reader.close()
        fail("the database has no schema yet: run `engage load-sample` (or `engage migrate`) first")
    return reader


def run(action: Any) -> Any:  # noqa: ANN401 - passes the action's result through
    """Run ``action``, turning a refusal of the engine into a one-line message."""
    from states.errors import EngageError

    try:
        return action()
    except EngageError as error:
        fail(str(error))


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(path: Path | None, inline: str | None, option: str = "--data") -> dict[str, Any] | None:
    """JSON from a file or from the command-line ``option``; refusals name the file or the option."""
    if path is None and inline is None:
        return None
    source = str(path) if path else f"the {option} option"
    try:
        text = path.read_text(encoding="utf-8") if path else inline
        value = json.loads(text or "", parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        fail(f"could not read JSON from {source}: {error}")
    except RecursionError:
        fail(f"could not read JSON from {source}: it is nested too deeply")
    if not isinstance(value, dict):
        fail(f"the JSON in {source} must be an object ({{...}}), not {type(value).__name__}")
    return value


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    database = open_db(migrate=True)
    console.print(f"schema up to date: {database.shown_url}")


@app.command("load-sample")
def load_sample() -> None:
    """Load the reference data (WGs, SWGs, co-chairs, windows) and a realistic sample of partners and meetings."""
    from states.directory import load_sample as load

    counts = run(lambda: load(open_db(migrate=True)))
    console.print(", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items()))


@app.command("load-reference")
@click.argument("path", type=path, help="A reference JSON file")
def load_reference(path: Path) -> None:
    """Load organizations, working groups, SWGs with co-chairs and submission windows from JSON."""
    from states.directory import load_reference as load

    data = read_json(path, None)
    counts = run(lambda: load(open_db(migrate=True), data))
    console.print(", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items()))


MAX_LISTED_PROBLEMS = 100


@app.command("import-partners")
@click.argument("path", type=path, help="CSV with name,industry,country[,region,contact_*]")
def import_partners(path: Path) -> None:
    """Import partner organizations and contacts from CSV: every bad row is reported, and then nothing is written."""
    from states.directory import import_partners_csv

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"could not read {path} as UTF-8 text: {error}")
    report = run(lambda: import_partners_csv(open_db(migrate=True), text))
    if report.errors:
        for line in report.errors[:MAX_LISTED_PROBLEMS]:
            errors.print(shown(line), style="red", highlight=False)
        if len(report.errors) > MAX_LISTED_PROBLEMS:
            errors.print(f"... and {len(report.errors) - MAX_LISTED_PROBLEMS} more", style="red")
        fail(f"{path}: {report.summary}")
    console.print(shown(report.summary))


@org_app.command("list")
@click.option("--type", type=choice_of(OrganizationType), help="Only this type")
def org_list(type: str | None) -> None:
    """List organizations."""
    from states.queries import list_organizations

    with open_reader() as reader:
        table = Table("name", "type", "industry", "country", "region", "contacts")
        for organization, contacts in list_organizations(reader, type=type):
            table.add_row(shown(organization.name), shown(organization.type), shown(organization.industry),
                          shown(organization.country), shown(organization.region), str(contacts))
    console.print(table)


@org_app.command("show")
@click.argument("name", help="The organization's exact name")
def org_show(name: str) -> None:
    """Show an organization and its contacts."""
    from states.queries import get_organization, undeliverable

    with open_reader() as reader:
        organization, contacts = run(lambda: get_organization(reader, name))
        bounced = undeliverable(reader, [contact.email for contact in contacts])
        console.print(Text.assemble(
            shown(organization.name, "bold"),
            shown(f" ({organization.type}, {organization.industry or '-'}, {organization.country or '-'}"
                  f"{f', {organization.region}' if organization.region else ''})"),
        ), highlight=False)
        table = Table("contact", "e-mail", "language", "opted out of", "undeliverable")
        for contact in contacts:
            table.add_row(shown(contact.name), shown(contact.email), shown(contact.language),
                          shown(", ".join(contact.opt_outs or [])), shown(bounced.get(contact.email.lower(), "")))
        console.print(table)


@org_app.command("add")
@click.option("--name", required=True, help="Organization name")
@click.option("--type", type=choice_of(OrganizationType), required=True, help="What the organization is")
@click.option("--industry", help="For partners: chemical, shipping, ...")
@click.option("--country", help="ISO 3166-1 alpha-2 code")
@click.option("--region")
def org_add(name: str, type: str, industry: str | None, country: str | None, region: str | None) -> None:
    """Add (or update) an organization."""
    from states.directory import upsert_organization
    from states.inputs import OrganizationInput, parse

    data = run(lambda: parse(OrganizationInput, {"name": name, "type": type, "industry": industry, "country": country,
                                                 "region": region}))
    database = open_db(migrate=True)
    with database.transaction() as session:
        organization = run(lambda: upsert_organization(session, data))
        console.print(shown(f"organization {organization.id}: {organization.name}"), highlight=False)


@app.command("list")
@click.option("--kind", type=choice_of(EngagementKind), help="Only this kind")
@click.option("--state", help="Only in this state (of the kind's lifecycle)")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200)
def list_(kind: str | None, state: str | None, limit: int) -> None:
    """List engagements, newest first."""
    from states.queries import list_engagements

    with open_reader() as reader:
        table = Table("id", "kind", "state", "title", "SWG", "updated")
        for row in run(lambda: list_engagements(reader, kind=kind, state=state, limit=limit)):
            table.add_row(str(row.id), shown(row.kind), shown(row.state), shown(row.title), shown(row.swg_code),
                          f"{row.updated_at:%Y-%m-%d}")
    console.print(table)


@app.command()
@click.argument("engagement_id", type=int, help="Engagement id")
def show(engagement_id: int) -> None:
    """Show an engagement: state, details, participants, report, votes, and what can happen next."""
    from states.lifecycles import get_lifecycle
    from states.queries import claim, dialogue_report, get_engagement, participants, votes

    with open_reader() as reader:
        row = run(lambda: get_engagement(reader, engagement_id))
        lifecycle = get_lifecycle(row.kind)
        console.print(shown(f"#{row.id} {row.title}", "bold"), highlight=False)
        console.print(Text.assemble(f"{lifecycle.title}: ", (row.state, "cyan"),
                                    f" ({lifecycle.state(row.state).description}); version {row.version}"),
                      highlight=False)
        facts = {"SWG": row.swg_code, "meeting": row.meeting_id, "country": row.country,
                 "created": f"{row.created_at:%Y-%m-%d %H:%M} UTC", "updated": f"{row.updated_at:%Y-%m-%d %H:%M} UTC"}
        if row.next_due_at:
            facts["next due"] = (f"{row.next_due_at:%Y-%m-%d %H:%M} UTC (reminder, escalation or expiry; "
                                 f"{row.reminders_sent} reminder(s) sent{', escalated' if row.escalated else ''})")
        facts["sender"] = claim(reader, row.id)
        _print_fields(None, {key: value for key, value in facts.items() if value is not None})
        _print_fields("details", row.details or {})
        table = Table("organization", "role", "contact")
        for participant in participants(reader, row.id):
            table.add_row(shown(participant.organization), shown(participant.role),
                          shown(participant.contact_email or "(all contacts)"))
        console.print(table)
        report = dialogue_report(reader, row.id)
        if report is not None:
            _print_fields(f"dialogue report (submitted {report.submitted_at:%Y-%m-%d %H:%M} UTC)", {
                name: getattr(report, name) for name in (
                    "held_on", "organizing_agency", "public_partners", "private_partners", "narrative",
                    "areas_of_discussion", "recommendations")
            })
        decisions = votes(reader, row.id)
        if decisions:
            table = Table(title="co-chair votes")
            for header in ("co-chair", "decision", "when (UTC)", "channel", "comment"):
                table.add_column(header, overflow="fold")
            for vote in decisions:
                table.add_row(shown(f"{vote.co_chair_name} <{vote.co_chair_email}>"), shown(vote.decision),
                              f"{vote.decided_at:%Y-%m-%d %H:%M}", shown(vote.channel), shown(vote.comment))
            console.print(table)
        steps = lifecycle.transitions_from(row.state)
        if steps:
            console.print("next: " + ", ".join(
                f"{t} ({'/'.join(sorted({r.value for s in steps if s.trigger == t for r in s.roles}))})"
                for t in dict.fromkeys(s.trigger for s in steps)
            ), highlight=False)


@app.command("accept-claim")
@click.argument("engagement_id", type=int, help="Engagement id")
@as_option
def accept_claim(engagement_id: int, identity: str) -> None:
    """Accept a website sender's claim to be from an organization, once verified: they become its contact."""
    from states.intake import accept_claim as accept

    database = open_db(migrate=True)
    console.print(shown(run(lambda: accept(database, engagement_id, identity))), highlight=False)


def _print_fields(heading: str | None, fields: dict[str, Any]) -> None:
    """``name: value`` lines (nested values as JSON), indented under an optional heading."""
    if heading:
        console.print(Text(heading, style="bold"))
    for name, value in fields.items():
        if value is None or value == []:
            continue
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
        console.print(Text("  ") + shown(name) + Text(": ") + shown(text.replace("\n", "\n    ")), highlight=False)


@app.command()
@click.option("--file", "-f", type=path, help="JSON file describing the engagement")
@click.option("--json", "data", help="The same JSON, inline")
@role_option
@as_option
def create(file: Path | None, data: str | None, role: str, identity: str) -> None:
    """Create an engagement from JSON: kind, title, swg_code, meeting_id, country, details, participants."""
    from states.workflow import create_engagement

    spec = read_json(file, data, "--json")
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
    console.print(shown(f"#{outcome.engagement_id} {trigger}: {moved} (version {outcome.version}, "
                        f"{outcome.notifications} notification(s) queued)"), highlight=False)


@app.command()
@click.argument("engagement_id", type=int, help="Engagement id")
@click.argument("trigger", help="The step to take, e.g. convene, submit_report, publish")
@role_option
@as_option
@comment_option
@click.option("--data", help="JSON data the step takes (e.g. a report)")
@click.option("--data-file", type=path, help="The same, from a file")
@click.option("--if-version", "expected_version", type=int, help="Refuse if it changed since")
def fire(engagement_id: int, trigger: str, role: str, identity: str, comment: str | None, data: str | None,
         data_file: Path | None, expected_version: int | None) -> None:
    """Fire a trigger on an engagement as an actor."""
    _fire(engagement_id, trigger, role, identity, comment, read_json(data_file, data), expected_version)


def _decide(engagement_id: int, identity: str, decision: str, comment: str | None) -> None:
    """A co-chair's decision through the same domain function as every other channel."""
    from states.approvals import record_decision

    database = open_db(migrate=True)
    result = run(lambda: record_decision(database, engagement_id, identity, decision, comment))
    style = "green" if result.applied else "yellow"
    console.print(Text.assemble(shown(result.message, style), shown(f" (engagement {engagement_id} is {result.state})")),
                  highlight=False)


@app.command()
@click.argument("engagement_id", type=int, help="Engagement id")
@click.option("--as", "identity", required=True, help="The co-chair's e-mail address")
@comment_option
def approve(engagement_id: int, identity: str, comment: str | None) -> None:
    """Approve, as a co-chair of the engagement's SWG, an invitation to present."""
    _decide(engagement_id, identity, "approve", comment)


@app.command()
@click.argument("engagement_id", type=int, help="Engagement id")
@click.option("--as", "identity", required=True, help="The co-chair's e-mail address")
@comment_option
def decline(engagement_id: int, identity: str, comment: str | None) -> None:
    """Decline, as a co-chair of the engagement's SWG, an invitation to present."""
    _decide(engagement_id, identity, "decline", comment)


@app.command()
@click.argument("engagement_id", type=int, help="Engagement id")
def history(engagement_id: int) -> None:
    """Show an engagement's audit trail: who did what, when, why, through which channel or flow run."""
    from states.queries import history as trail

    with open_reader() as reader:
        table = Table("when (UTC)", "trigger", "from", "to", "actor", "role", "channel", "flow run", "comment")
        for log in run(lambda: trail(reader, engagement_id)):
            table.add_row(f"{log.at:%Y-%m-%d %H:%M}", *(shown(value) for value in (
                log.trigger, log.from_state, log.to_state, log.actor, log.actor_role, log.channel, log.flow_run_id,
                log.comment)))
    console.print(table)


@app.command()
@click.argument("kind", help="Engagement kind, e.g. swg_presentation; 'all' for every kind")
def diagram(kind: str) -> None:
    """Print the Mermaid state diagram of a lifecycle."""
    from states.diagram import mermaid
    from states.lifecycles import LIFECYCLES, get_lifecycle

    kinds = list(LIFECYCLES) if kind == "all" else [kind]
    for name in kinds:
        lifecycle = run(lambda: get_lifecycle(name))
        sys.stdout.write(mermaid(lifecycle))


@app.command()
@click.option("--data-dir", type=path, help="Where everything goes (default: ENGAGE_DATA_DIR or ./engage-data)")
def demo(data_dir: Path | None) -> None:
    """The main job: replay the Coalition's 2024 private-sector engagements through the Prefect flows."""
    from cli.config import checked_settings
    from flows.demo import run_demo

    run_demo(data_dir or checked_settings().data_dir, console=console)


@app.command()
@click.option("--format", default="html", help="html or pdf")
@click.option("--lang", default="en", help="en, es or fr")
@click.option("--out", type=path, help="Output file (default: the site's report/report-LANG.FORMAT)")
@click.option("--year", type=int, help="Year of the report (default: the latest year on record)")
def report(format: str, lang: str, out: Path | None, year: int | None) -> None:
    """Write the final report (figures, charts, selected quotes, timeline); in the site, also link it from there.

    A foreword and an executive summary staff wrote in DATA_DIR/report/foreword.LANG.md and summary.LANG.md come first.
    """
    from datetime import date

    from cli.config import checked_settings
    from report import report_path, texts_folder, write_report
    from states.publication import portal_url, publish_site

    if format not in ("html", "pdf"):
        fail(f"--format must be html or pdf, not {format!r}")
    if lang not in ("en", "es", "fr"):
        fail(f"--lang must be en, es or fr, not {lang!r}")
    settings = checked_settings()
    target = out or report_path(settings.site_dir, lang, format)  # type: ignore[arg-type]
    in_site = target.resolve().parent == (settings.site_dir / "report").resolve()
    database = open_db()
    try:
        written = write_report(database, target, language=lang, format=format, year=year, in_site=in_site,  # type: ignore[arg-type]
                               texts=texts_folder(settings.data_dir))
    except OSError as error:
        fail(f"could not write {target}: {error}")
    if in_site:
        publish_site(database, settings.site_dir, portal=portal_url(settings), today=date.today(), site_url=settings.site_url)
    console.print(f"final report {written.year} ({lang}, {format}): {written.path}")


def _interrupt(*_: object) -> None:
    """SIGTERM handled as Ctrl-C: a long-running command stops between two rounds of work."""
    raise KeyboardInterrupt


def _run_job(job: str) -> None:
    """Run one of the scheduled jobs once, now, as the flow would (without Prefect), and print what it did."""
    from settings import get_settings
    from states.jobs import run_job

    database = open_db()
    done = run(lambda: run_job(job, database, get_settings(), by="command line"))
    console.print(shown(done.summary), highlight=False)


@app.command()
@click.option("--follow", is_flag=True,
              help="Keep delivering until stopped: woken by each commit that queues mail on PostgreSQL, else polling")
@click.option("--every", type=click.FloatRange(0.5, 3600), default=30.0, show_default=True,
              help="With --follow: the longest wait between two rounds (the only wake-up on SQLite)")
def dispatch(follow: bool, every: float) -> None:
    """Send the waiting mail once, now (what the dispatch flow does on its schedule); --follow keeps at it."""
    if not follow:
        _run_job("dispatch")
        return
    import signal

    from notifications.dispatcher import dispatch_pending
    from notifications.wakeup import WorkSignal
    from settings import get_settings
    from states.jobs import delivery_summary

    database, settings = open_db(), get_settings()
    signal.signal(signal.SIGTERM, _interrupt)
    console.print(f"delivering as mail is queued (at least every {every:g} s); Ctrl-C stops", highlight=False)
    try:
        with WorkSignal(database) as work:
            while True:
                report = dispatch_pending(database, settings=settings)
                if report.sent or report.retrying or report.dead or report.outages:
                    console.print(shown(delivery_summary(report)[0]), highlight=False)
                work.wait(every)
    except KeyboardInterrupt:
        console.print("stopped", highlight=False)


@app.command()
def sweep() -> None:
    """Send the reminders and escalations due now and expire what is overdue, then send the mail it queued."""
    _run_job("sweep")


@app.command()
def publish() -> None:
    """Republish the website once, now: exactly what is published, withdrawn pages removed."""
    _run_job("publish")


@app.command()
@click.option("--host", default="127.0.0.1", help="Address to listen on")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, help="Port to listen on")
@click.option("--workers", type=click.IntRange(1, 64), default=1, help="Worker processes (PostgreSQL; keep 1 on SQLite)")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the portal: the pages the mailed links open (set ENGAGE_PUBLIC_BASE_URL to its public address)."""
    import uvicorn

    from cli.config import checked_settings
    from models.db import masked_url

    settings = checked_settings()
    open_db(migrate=True).dispose()
    settings.signing_key()  # create the key file once, before any worker starts
    console.print(f"portal on http://{host}:{port} over {masked_url(settings.resolved_database_url)}; "
                  f"mails link to {masked_url(settings.public_base_url)}")
    uvicorn.run("portal.asgi:app_from_environment", factory=True, host=host, port=port, workers=workers,
                log_level="warning", proxy_headers=False, server_header=False)


@app.command()
@click.option("--data-dir", type=path, help="The data folder to serve (default: ENGAGE_DATA_DIR or ./engage-data)")
@click.option("--host", default="127.0.0.1", show_default=True, help="The portal's address")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="The portal's port")
@click.option("--prefect-host", default="127.0.0.1", show_default=True, help="The Prefect server's address")
@click.option("--prefect-port", type=click.IntRange(1, 65535), default=4200, show_default=True)
@click.option("--watch-seconds", type=click.FloatRange(0.5, 600), default=3.0, show_default=True,
              help="How often decisions are relayed and mail delivered")
def up(data_dir: Path | None, host: str, port: int, prefect_host: str, prefect_port: int, watch_seconds: float) -> None:
    """Run the whole system on one machine: Prefect server, every deployment, the portal; Ctrl-C stops it."""
    from cli.up import run_up

    run_up(data_dir, host, port, prefect_host, prefect_port, watch_seconds,
           lambda line: console.print(shown(line), highlight=False))


@app.command("mail-links")
@click.option("--to", help="Only mails to this address")
def mail_links(to: str | None) -> None:
    """The portal links in the mail folder (the demo's Maildir): who got them, about what."""
    from cli.environment import data_dir
    from portal.visitor import mailed_links

    maildir = data_dir() / "mail"
    if not (maildir / "new").is_dir():
        fail(f"no mail folder at {maildir}: run `engage demo` first or set ENGAGE_DATA_DIR")
    for recipient, subject, url in mailed_links(maildir):  # the link whole on its own line, to copy
        if to is None or to.lower() in recipient.lower():
            console.print(shown(f"{recipient}: {subject}"), highlight=False, soft_wrap=True)
            console.print(shown(f"  {url}"), highlight=False, soft_wrap=True)


@app.command("mail-intake")
@click.option("--limit", type=click.IntRange(1, 100_000), help="Read at most this many messages")
def mail_intake(limit: int | None) -> None:
    """Read the Secretariat's mailbox once (ENGAGE_IMAP_*): file each message, move it to Processed or Refused."""
    import imaplib

    from imap_tools.errors import MailboxLoginError
    from notifications.mailbox import read_mailbox
    from settings import get_settings

    database = open_db(migrate=True)
    try:
        report = run(lambda: read_mailbox(database, get_settings(), limit=limit))
    except (OSError, imaplib.IMAP4.error, MailboxLoginError) as error:
        fail(f"the mailbox could not be read: {error}")
    for item in report.filed:
        console.print(shown(f"{item.outcome}: {item.reason}"), highlight=False, soft_wrap=True)
    console.print(shown(report.summary()), highlight=False)


@app.group("outbox", invoke_without_command=True, help="Notifications waiting, sent, or dead-lettered.")
@click.option("--status", type=choice_of(OutboxStatus), help="Only with this status")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100)
@click.pass_context
def outbox_app(ctx: click.Context, status: str | None, limit: int) -> None:
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
        table.add_row(str(row.id), *(shown(value) for value in (
            row.status, row.notification_type, row.recipient_address, row.language, row.attempts, row.engagement_id,
            row.last_error or row.status_reason)))
    console.print(table)


@outbox_app.command("retry")
@click.argument("message_id", type=int, required=False, help="Outbox message id")
@click.option("--dead", is_flag=True, help="Requeue every dead-lettered notification")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="With --dead: last attempt on or after this day (UTC)")
@click.option("--type", "notification_type", help="With --dead: only this notification type")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation")
def outbox_retry(message_id: int | None, dead: bool, since: datetime | None, notification_type: str | None,
                 yes: bool) -> None:
    """Requeue one unsent notification (ID), or every dead-lettered one (--dead), for delivery."""
    from notifications.dispatcher import find_dead, requeue, requeue_dead
    from notifications.errors import OutboxAlreadySent, OutboxMessageNotFound, OutboxOptedOut
    from states.errors import EngageError

    if (message_id is None) == (not dead):
        fail("give either an outbox message id or --dead")
    if message_id is not None and (since or notification_type):
        fail("--since and --type go with --dead, not with a message id")
    if notification_type is not None:
        from models.enums import NotificationType

        if notification_type not in {member.value for member in NotificationType}:
            fail(f"--type: unknown notification type {notification_type!r}; choose one of: "
                 + ", ".join(member.value for member in NotificationType))
    database = open_db()
    if message_id is not None:
        try:
            try:
                row = requeue(database, message_id)
            except OutboxOptedOut as refusal:
                if "no recipient" in str(refusal):
                    raise
                if not yes:
                    click.confirm(f"{refusal}. Send it anyway?", abort=True)
                row = requeue(database, message_id, override_opt_out=True)
        except (OutboxMessageNotFound, OutboxAlreadySent, OutboxOptedOut, EngageError) as error:
            fail(str(error))
        console.print(shown(f"outbox message {row.id} to {row.recipient_address} is pending again"), highlight=False)
        return
    found = find_dead(database, since=since.date() if since else None, notification_type=notification_type)
    if not found.ids:
        console.print("no dead-lettered notification matches; nothing requeued")
        return
    question = f"Requeue {len(found.ids)} dead-lettered notification{'s' if len(found.ids) != 1 else ''}?"
    if found.opted_out:
        question = (f"Warning: {len(found.opted_out)} of them go to recipients who have opted out "
                    f"(ids {', '.join(map(str, found.opted_out[:20]))}{'...' if len(found.opted_out) > 20 else ''}). "
                    + question)
    if not yes:
        click.confirm(question, abort=True)
    elif found.opted_out:
        errors.print(question.split(" Requeue")[0], highlight=False)
    count = requeue_dead(database, found.ids)
    console.print(f"{count} dead-lettered notification{'s are' if count != 1 else ' is'} pending again")


app.add_command(check_config)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``engage`` console script.

    Refusals exit with 1 and name the field; usage errors exit with 2 (Click); any unexpected error
    also exits with 2, as one line, with the full traceback only under ``--debug`` (or ENGAGE_DEBUG=1).
    """
    try:
        app.main(args=argv, prog_name="engage")
    except Exception as error:  # noqa: BLE001 - the one place where any crash becomes a message
        from models.db import masked_url

        if debug_mode:
            sys.stderr.write(masked_url(traceback.format_exc()))
        summary = masked_url((str(error).strip().splitlines() or [""])[0][:300])
        errors.print(Text.assemble(("error:", "bold red"), f" unexpected {type(error).__name__}: ", shown(summary),
                                   " (run `engage --debug ...` for the traceback)"), highlight=False)
        sys.exit(2)
