"""``engage demo``: replay the Coalition's 2024 private-sector engagement on a simulated clock.

Everything happens under ``data_dir`` (default ``./engage-data``): the SQLite database, Prefect's
home (its ephemeral API: no server to start), the static website (``site/``) and the mail
(``mail/``, a Maildir written by a local SMTP sink the demo starts itself). Notifications go out
over real SMTP in English, Spanish and French. Run ``python -m flows.demo [DATA_DIR]``.
"""

from __future__ import annotations

import asyncio
import atexit
import imaplib
import mailbox
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flows.runtime import configure_prefect

MARKER = ".engage-demo"


@dataclass
class DemoSummary:
    data_dir: Path
    engagements: dict[str, dict[str, int]]
    notifications_sent: int
    notifications_by_language: dict[str, int]
    notifications_not_sent: int
    mail_messages: int
    site_dir: Path
    site_pages: int
    maildir: Path
    flow_runs: int
    elapsed_seconds: float
    notes: list[str] = field(default_factory=list)
    report_files: list[Path] = field(default_factory=list)


def _at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=timezone.utc)


def _prepare(data_dir: Path) -> None:
    """Start from a clean demo folder; never wipe a folder that was not made by the demo."""
    data_dir.mkdir(parents=True, exist_ok=True)
    marker = data_dir / MARKER
    if (data_dir / "engage.db").exists() and not marker.exists():
        raise SystemExit(f"{data_dir} holds an engine database not made by the demo; choose another folder")
    for name in ("engage.db", "engage.db-wal", "engage.db-shm"):
        (data_dir / name).unlink(missing_ok=True)
    for name in ("site", "mail"):
        shutil.rmtree(data_dir / name, ignore_errors=True)
    marker.write_text("made by `engage demo`; the demo resets this folder's database, site and mail\n")


def _plain_http_api(prefect_home: Path) -> dict[str, str]:
    """Prefect's settings for an API over plain HTTP (the replay's own ephemeral one, or a local one).

    Each of the replay's ~280 Prefect clients loads the CA bundle it is given (certifi's, ~140
    certificates: 30 to 170 ms each time, some 15 % of the replay) though no TLS is ever negotiated
    with such an API; a bundle of one certificate costs nothing. An https API keeps the full bundle.
    """
    if os.environ.get("PREFECT_API_URL", "").startswith("https://"):
        return {}
    import certifi

    bundle = Path(certifi.where()).read_text("ascii")
    end = "-----END CERTIFICATE-----\n"
    prefect_home.mkdir(parents=True, exist_ok=True)
    single = prefect_home / "plain-http-api-ca.pem"
    single.write_text(bundle[bundle.index("-----BEGIN CERTIFICATE-----"):bundle.index(end) + len(end)], "ascii")
    return {"PREFECT_API_SSL_CERT_FILE": str(single)}


#: What Prefect's ephemeral API keeps in its home once migrated: its database and the memo of registered blocks.
PREFECT_TEMPLATE_FILES = ("memo_store.toml", "prefect.db")


def _prefect_template() -> Path:
    """Where a freshly migrated ephemeral-API home is kept for this Prefect version (the user's cache)."""
    from importlib.metadata import version

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "coalition-engage" / f"prefect-{version('prefect')}"


#: The replay's API (the environment may say otherwise) leaves out automations (reactive and proactive triggers,
#: their actions: no deployment or automation exists in it), and records task runs from their events in batches
#: of 50 (or every 5 s, and at its end) instead of one SQLite write transaction per event, on which the flow runs'
#: own requests waited (a replay took 44 s instead of 29 s).
EPHEMERAL_API_DEFAULTS = {"PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
                          "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "50"}
#: A home copied from the template was migrated, and its blocks registered, by this version of Prefect.
SEEDED_API_DEFAULTS = {"PREFECT_API_DATABASE_MIGRATE_ON_START": "false", "PREFECT_API_BLOCKS_REGISTER_ON_START": "false"}


def _start_ephemeral_api(prefect_home: Path) -> Callable[[], None]:
    """Start Prefect's ephemeral API in the background and point this process's clients at it; return the wait
    for it to answer.

    It is the server Prefect's clients would start themselves (``SubprocessASGIServer``: the same uvicorn command,
    only the ephemeral services, no UI), started here before Prefect is imported, which then loads alongside it,
    and without importing ``prefect.server`` into the replay (the whole API: 3 to 5 s of CPU only to start a
    process). A fresh home costs the API its migrations (some 100 Alembic revisions, 7 to 15 s): the first replay
    keeps the migrated home in the user's cache and later replays start from a copy. A configured API or database
    (``PREFECT_API_URL``, ``PREFECT_API_DATABASE_CONNECTION_URL``, in the environment or a profile) is left to
    Prefect, and the server started for nothing is stopped.
    """
    if os.environ.get("PREFECT_API_URL"):
        return lambda: None
    template = _prefect_template()
    fresh = not (prefect_home / "prefect.db").exists()
    seeded = fresh and (template / "prefect.db").exists()
    if seeded:
        prefect_home.mkdir(parents=True, exist_ok=True)
        for name in PREFECT_TEMPLATE_FILES:
            shutil.copyfile(template / name, prefect_home / name)
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "error", "--lifespan", "on"],
        env={**EPHEMERAL_API_DEFAULTS, **(SEEDED_API_DEFAULTS if seeded else {}), **os.environ,
             "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"})
    from prefect.context import refresh_global_settings_context
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled or "connection_url" in settings.server.database.model_fields_set:
        _stop(server)
        return lambda: None
    atexit.register(_stop, server)  # after Prefect's own exit hooks, which send the last events to it
    os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    if not settings.server.api.csrf_protection_enabled:
        os.environ.setdefault("PREFECT_CLIENT_CSRF_SUPPORT_ENABLED", "false")  # no token to fetch for each client
    refresh_global_settings_context()
    deadline = time.monotonic() + settings.server.ephemeral.startup_timeout_seconds

    def wait() -> None:
        while not _answers(f"http://127.0.0.1:{port}/api/health"):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Prefect's ephemeral API (port {port}) did not start: exit code {server.poll()}")
            time.sleep(0.1)
        if fresh and not seeded and not (template / "prefect.db").exists():
            _keep_prefect_template(prefect_home, template)

    return wait


def _answers(url: str) -> bool:
    """Whether ``url`` (on this machine: never through a proxy) answers 200."""
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _keep_prefect_template(prefect_home: Path, template: Path) -> None:
    """Copy the just-migrated home (no flow run in it yet) to ``template``; the database last, as a whole."""
    template.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(prefect_home / "memo_store.toml", template / "memo_store.toml")
    partial = template / "prefect.db.partial"
    with closing(sqlite3.connect(prefect_home / "prefect.db")) as source, closing(sqlite3.connect(partial)) as target:
        source.backup(target)
    partial.replace(template / "prefect.db")


def run_demo(data_dir: Path = Path("engage-data"), *, console: Any = None) -> DemoSummary:
    """Replay 2024 into ``data_dir`` and return what happened (and print it, with rich progress)."""
    started = time.perf_counter()
    data_dir = Path(data_dir).resolve()
    _prepare(data_dir)
    configure_prefect(home=data_dir / "prefect", PREFECT_LOGGING_LEVEL="WARNING", **_plain_http_api(data_dir / "prefect"))
    api_ready = _start_ephemeral_api(Path(os.environ["PREFECT_HOME"]))

    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from notifications.mail_sink import running_mail_sink

    console = console or Console()
    maildir = data_dir / "mail"
    with running_mail_sink(maildir, "127.0.0.1", 0) as port:
        replay = _Replay(data_dir, port, console)
        with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=console, transient=False) as progress:
            bar = progress.add_task("starting Prefect (ephemeral API) and loading reference data", total=len(replay.steps) + 1)
            replay.start(api_ready)
            progress.advance(bar)
            for when, title, action in replay.steps:
                progress.update(bar, description=f"{when:%d %b %Y}: {title}")
                replay.clock.set(when)
                action()
                replay.after_step(when)
                progress.advance(bar)
            progress.update(bar, description="2024 replayed")
        summary = replay.summary(time.perf_counter() - started)
    _print_summary(console, summary)
    return summary


class _Replay:
    """The 2024 timeline; each step acts through the domain, then the sweep flow runs and delivers the mail."""

    def __init__(self, data_dir: Path, smtp_port: int, console: Any) -> None:
        from models.db import Database
        from settings import Settings
        from states.clock import SimulatedClock

        self.console = console
        # Links must still work after the replay, on the real date: they live ten years here.
        self.settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'engage.db'}",
                                 smtp_host="127.0.0.1", smtp_port=smtp_port, link_lifetime_days=3650)
        self.clock = SimulatedClock(_at("2024-01-08"))
        self.db = Database(self.settings.resolved_database_url)
        self.ids: dict[str, int] = {}
        self.titles: dict[str, str] = {}
        self.notes: list[str] = []
        self.flow_runs = 0
        self.publish_due = False
        self.loop = asyncio.new_event_loop()
        self.steps: list[tuple[datetime, str, Callable[[], None]]] = [
            (_at("2024-01-08"), "national dialogues planned (Mexico, France, Thailand)", self.plan_dialogues),
            (_at("2024-01-15"), "invitations to present proposed; co-chairs asked", self.propose_presentations),
            (_at("2024-01-18"), "co-chair decisions (SWG 2.2 all; SWG 1.1 declines)", self.first_decisions),
            (_at("2024-01-22"), "Prevent Alliance workshop scheduled; toolkit on the SWG 2.2 agenda", self.schedule_workshop),
            (_at("2024-01-29"), "Mexico holds its national dialogue", self.mexico_holds),
            (_at("2024-02-09"), "Prevent Alliance workshop (youth prevention and treatment)", self.workshop_held),
            (_at("2024-02-12"), "Mexico reports; France and Thailand hold dialogues", self.dialogue_reports),
            (_at("2024-02-20"), "SWG 2.2 session: PPP toolkit and Meta present", self.swg22_session),
            (_at("2024-03-01"), "SWG 3.1 invitation sent to its co-chairs (quorum 2 of 3)", self.swg31_request),
            (_at("2024-03-08"), "sweep reminds the SWG 3.1 co-chairs", lambda: None),
            (_at("2024-03-15"), "sweep escalates to the Secretariat; France reports", self.france_reports),
            (_at("2024-03-18"), "SWG 3.1 co-chairs approve after the escalation", self.swg31_decisions),
            (_at("2024-03-25"), "website contributions screened", self.website_contributions),
            (_at("2024-04-10"), "recommendation before the 30 April early deadline", self.early_recommendation),
            (_at("2024-04-16"), "SWG 3.1 session: Atlantique Maritime presents", self.swg31_session),
            (_at("2024-05-20"), "recommendation after the early deadline", self.late_recommendation),
            (_at("2024-06-12"), "banking-sector forum with FATF", self.banking_forum),
            (_at("2024-07-11"), "launch of the Alliance to Prevent Drug Harms (Meta, Snap, X)", self.alliance_launch),
            (_at("2024-10-02"), "a website submission after 30 September is refused", self.late_submission),
            (_at("2024-11-15"), "achievements gathered for the final report", self.achievements),
            (_at("2024-11-20"), "achievements sent through the website form", self.public_achievements),
            (_at("2025-01-20"), "final report: achievements published", self.final_report),
            (_at("2025-01-27"), "invitations for 2025: left open for the portal", self.invitations_2025),
        ]

    # --- plumbing -----------------------------------------------------------------------------
    def start(self, api_ready: Callable[[], None]) -> None:
        """Everything that needs no Prefect API while it starts in its own process (on the other core), then the
        first dispatch."""
        from flows.dispatch import dispatch_flow
        from flows.final_report import report_flow
        from flows.publication import publication_flow
        from flows.runtime import Runtime, use_runtime
        from flows.sweep import sweep_flow
        from portal.server import running_portal
        from portal.visitor import Visitor
        from states.directory import load_sample

        self.flows: dict[str, Callable[[], Any]] = {"sweep": sweep_flow, "dispatch": dispatch_flow,
                                                    "publish": publication_flow, "report": report_flow}
        self.db.migrate()
        load_sample(self.db)
        self._runtime_cm = use_runtime(Runtime(self.settings, self.db, self.clock))
        self._runtime_cm.__enter__()
        # People act through the portal: read the mail, follow its link, press the button.
        self._portal_cm = running_portal(self.settings, self.db, self.clock)
        self.visitor = Visitor(self.settings.maildir, self._portal_cm.__enter__())
        api_ready()
        self.flow("dispatch")

    def flow(self, name: str) -> Any:
        self.flow_runs += 1
        return self.loop.run_until_complete(self.flows[name]())

    def after_step(self, when: datetime) -> None:
        """One sweep flow run (reminders, escalations, expiries, then the dispatch: events relayed, mail delivered),
        then the website when the step published something."""
        report = self.flow("sweep")
        for label in ("reminded", "escalated", "expired"):
            for item in report[label]:
                self.say(f"sweep {label} #{item['engagement_id']} {item['title']} ({item['notifications']} notification(s))")
        if self.publish_due:
            result = self.flow("publish")
            self.say(f"website: {result['items']} published item(s)")
            self.publish_due = False

    def say(self, text: str) -> None:
        self.console.print(f"  [dim]{self.clock.now():%Y-%m-%d}[/dim] {text}")

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.console.print(f"  [yellow]{self.clock.now():%Y-%m-%d}[/yellow] {text}")

    def create(self, key: str, data: dict[str, Any], actor: dict[str, str] | None = None) -> int:
        from states.workflow import create_engagement

        self.ids[key] = create_engagement(self.db, data, actor or STAFF, clock=self.clock)
        self.titles[key] = data["title"]
        return self.ids[key]

    def fire(self, key: str, trigger: str, actor: dict[str, str] | None = None, **kwargs: Any) -> Any:
        from states.workflow import apply_transition

        return apply_transition(self.db, self.ids[key], trigger, actor or STAFF, clock=self.clock,
                                settings=self.settings, **kwargs)

    def decide(self, key: str, email: str, decision: str, comment: str | None = None) -> None:
        """A co-chair follows the link of their approval request (or its reminder) and decides."""
        answer = self.visitor.act(email, self.titles[key], decision, comment=comment or "")
        (self.say if answer.ok else self.note)(f"portal {answer.status}: {answer.message}")

    def answer_invitation(self, key: str, email: str, action: str) -> None:
        """The partner follows the link of their invitation and answers."""
        self.flow("dispatch")  # the invitation reaches the mailbox first
        answer = self.visitor.act(email, self.titles[key], action)
        (self.say if answer.ok else self.note)(f"portal {answer.status}: {answer.message}")

    def meeting(self, title: str) -> int:
        from sqlalchemy import select

        from models import Meeting

        with self.db.transaction() as session:
            return session.scalar(select(Meeting.id).where(Meeting.title == title))

    # --- the timeline ---------------------------------------------------------------------------
    def plan_dialogues(self) -> None:
        for key, country, government, agency, contact, partners in DIALOGUES:
            self.create(key, {
                "kind": "national_dialogue", "title": f"National dialogue of {country} with the private sector",
                "country": key.split(":")[1], "details": {"organizing_agency": agency},
                "participants": [{"organization": government, "role": "organizer", "contact_email": contact}]
                + [{"organization": p, "role": "partner"} for p in partners],
            }, {"role": "national_authority", "identity": contact})
            self.fire(key, "convene", {"role": "national_authority", "identity": contact})
        self.say("3 national dialogues planned and convened")

    def propose_presentations(self) -> None:
        for key, partner, swg, meeting, topic in PRESENTATIONS:
            self.create(key, {
                "kind": "swg_presentation", "title": f"{partner} at SWG {swg}: {topic}", "swg_code": swg,
                "meeting_id": self.meeting(meeting), "details": {"topic": topic},
                "participants": [{"organization": partner, "role": "presenter"}],
            })
        for key in ("pres:meta", "pres:helix"):
            self.fire(key, "request_approval", SYSTEM)
        self.say("co-chairs of SWG 2.2 and 1.1 asked to approve (approval requests in en/fr)")

    def first_decisions(self) -> None:
        self.decide("pres:meta", "swg22.france@cochairs.example", "approve", "Bienvenue")
        self.decide("pres:meta", "swg22.france@cochairs.example", "approve")  # twice: recorded once
        self.decide("pres:meta", "swg22.unodc@cochairs.example", "approve")
        self.decide("pres:helix", "swg11.canada@cochairs.example", "decline", "Not in scope of SWG 1.1 this year")
        # the approval sent the invitation in its own transaction
        self.answer_invitation("pres:meta", "policy@meta.example", "accept")

    def schedule_workshop(self) -> None:
        self.create("alliance:workshop", {
            "kind": "alliance_meeting", "title": "Prevent Alliance workshop: youth prevention and treatment",
            "meeting_id": self.meeting("Prevent Alliance workshop on youth prevention and treatment"),
            "details": {"purpose": "A framework and action plan on youth prevention and treatment with tech companies."},
            "participants": [{"organization": "UNODC", "role": "host"}]
            + [{"organization": p, "role": "invitee"} for p in ("Meta", "Snap Inc.", "Discord")],
        })
        self.fire("alliance:workshop", "schedule")
        self.fire("alliance:workshop", "send_invitations")
        self.create("toolkit", {
            "kind": "toolkit_launch", "title": "Public-private partnership toolkit",
            "meeting_id": self.meeting("SWG 2.2 information-sharing session"),
            "details": {"url": "https://www.unodc.org/ppp-toolkit"},
            "participants": [{"organization": "UNODC", "role": "host"}],
        })
        self.fire("toolkit", "schedule_presentation")

    def mexico_holds(self) -> None:
        self.fire("dialogue:MX", "hold", {"role": "national_authority", "identity": "enlace@conadic-mx.example"})

    def workshop_held(self) -> None:
        self.fire("alliance:workshop", "hold")
        self.fire("alliance:workshop", "record_outcome", data={
            "summary": "Participants agreed a framework and an action plan on youth prevention and treatment.",
            "commitments": ["Meta: prevention messaging for young users", "Snap Inc.: in-app resources",
                            "Discord: trusted-flagger programme"],
        })
        self.fire("alliance:workshop", "publish")
        self.publish_due = True

    def dialogue_reports(self) -> None:
        self._report("dialogue:MX", "enlace@conadic-mx.example", "2024-01-29", "CONADIC", 6, 14,
                     "Chemical, shipping and banking companies discussed precursor controls.",
                     ["precursor chemicals", "maritime shipping", "suspicious transactions"])
        for key, contact in (("dialogue:FR", "international@mildeca-fr.example"), ("dialogue:TH", "oncb@thailand-gov.example")):
            self.fire(key, "hold", {"role": "national_authority", "identity": contact})

    def _report(self, key: str, contact: str, held: str, agency: str, public: int, private: int, narrative: str,
                areas: list[str]) -> None:
        self.fire(key, "submit_report", {"role": "national_authority", "identity": contact}, data={
            "held_on": held, "organizing_agency": agency, "public_partners": public, "private_partners": private,
            "narrative": narrative, "areas_of_discussion": areas,
        })
        self.fire(key, "start_review")
        self.fire(key, "publish")
        self.publish_due = True
        self.say(f"{key} reported ({public} public, {private} private partners) and published")

    def swg22_session(self) -> None:
        for trigger in ("present", "launch", "publish"):
            self.fire("toolkit", trigger)
        self.fire("pres:meta", "record_presentation")
        self.fire("pres:meta", "publish")
        self.publish_due = True

    def swg31_request(self) -> None:
        self.fire("pres:atlantique", "request_approval", SYSTEM)

    def france_reports(self) -> None:
        # The MILDECA answers the reminder's link with the report form of the portal.
        answer = self.visitor.act(
            "international@mildeca-fr.example", self.titles["dialogue:FR"], "submit_report", held_on="2024-02-14",
            organizing_agency="MILDECA", public_partners="4", private_partners="9",
            narrative="Shipping, consignment and pharmaceutical companies met the MILDECA.",
            areas="consignment screening\nonline pharmacies",
        )
        (self.say if answer.ok else self.note)(f"portal {answer.status}: {answer.message}")
        self.fire("dialogue:FR", "start_review")
        self.fire("dialogue:FR", "publish")
        self.publish_due = True

    def swg31_decisions(self) -> None:
        self.decide("pres:atlantique", "swg31.nigeria@cochairs.example", "approve")
        self.decide("pres:atlantique", "swg31.who@cochairs.example", "approve", "Relevant to prevention")
        self.decide("pres:atlantique", "swg31.uk@cochairs.example", "decline")  # too late: already approved
        self.answer_invitation("pres:atlantique", "cdubois@atlantique-maritime.example", "accept")

    def website_contributions(self) -> None:
        for key, org, email, media, summary in SUBMISSIONS:
            self.create(key, {
                "kind": "website_submission", "title": f"{org}: {summary[:60]}",
                "details": {"media": media, "url": f"https://example.org/{key.split(':')[1]}", "summary": summary},
                "participants": [{"organization": org, "role": "partner", "contact_email": email}],
            }, {"role": "partner", "identity": email})
            self.fire(key, "submit", {"role": "partner", "identity": email})
            self.fire(key, "start_screening")
        for trigger in ("approve", "publish"):
            self.fire("web:rapid", trigger)
        self.fire("web:colis", "request_changes", comment="Merci d'ajouter des sous-titres en anglais.")
        self.publish_due = True

    def _recommendation(self, key: str, org: str, email: str, topic: str, text: str) -> None:
        self.create(key, {
            "kind": "recommendation", "title": f"Recommendation from {org}", "details": {"topic": topic, "text": text},
            "participants": [{"organization": org, "role": "partner", "contact_email": email}],
        }, {"role": "partner", "identity": email})
        self.fire(key, "submit", {"role": "partner", "identity": email})
        self.fire(key, "start_review")
        self.fire(key, "accept")

    def early_recommendation(self) -> None:
        self._recommendation("rec:early", "Química Andina S.A.", "mfernandez@quimica-andina.example", "information_sharing",
                             "Share precursor-diversion alerts between chemical distributors and customs.")
        self.fire("rec:early", "include_in_deliverable")
        self.fire("rec:early", "publish")
        self.publish_due = True
        self.say("early recommendation included in the Coalition deliverable")

    def swg31_session(self) -> None:
        self.fire("pres:atlantique", "record_presentation")
        self.fire("pres:atlantique", "publish")
        self.publish_due = True

    def late_recommendation(self) -> None:
        from states.errors import GuardFailedError

        self._recommendation("rec:late", "ShopGlobal Marketplace", "wlin@shopglobal.example", "innovative_products_and_services",
                             "Marketplace keyword filters for precursor listings, shared across platforms.")
        try:
            self.fire("rec:late", "include_in_deliverable")
        except GuardFailedError as refusal:
            self.note(f"refused as expected: {refusal}")
        self.fire("rec:late", "publish")
        self.publish_due = True

    def banking_forum(self) -> None:
        self.create("forum", {
            "kind": "private_sector_forum", "title": "Banking-sector forum on synthetic-drug finance",
            "meeting_id": self.meeting("Banking-sector forum on synthetic-drug finance"),
            "details": {"focus": "banking_forum", "purpose": "Financial flows of synthetic-drug trafficking."},
            "participants": [{"organization": "FATF", "role": "host"}]
            + [{"organization": p, "role": "invitee"} for p in ("Banco Continental", "First Meridian Bank")],
        })
        for trigger in ("schedule", "send_invitations", "hold"):
            self.fire("forum", trigger)
        self.fire("forum", "record_outcome", data={"summary": "Red flags for synthetic-drug finance agreed.",
                                                   "commitments": ["Banco Continental: typology sharing"]})
        self.fire("forum", "publish")
        self.publish_due = True

    def alliance_launch(self) -> None:
        self.create("alliance:launch", {
            "kind": "alliance_meeting", "title": "Launch of the Alliance to Prevent Drug Harms",
            "meeting_id": self.meeting("Launch of the Alliance to Prevent Drug Harms"),
            "details": {"purpose": "Launch of the public-private Alliance to Prevent Drug Harms."},
            "participants": [{"organization": "UNODC", "role": "host"}]
            + [{"organization": p, "role": "invitee"} for p in ("Meta", "Snap Inc.", "X Corp.")],
        })
        for trigger in ("schedule", "send_invitations", "hold"):
            self.fire("alliance:launch", trigger)
        self.fire("alliance:launch", "record_outcome", data={
            "summary": "Meta, Snap and X launched the Alliance to Prevent Drug Harms with UNODC.",
            "commitments": ["Meta", "Snap Inc.", "X Corp."],
        })
        self.fire("alliance:launch", "publish")
        self.publish_due = True

    def late_submission(self) -> None:
        from states.errors import GuardFailedError

        self.create("web:late", {
            "kind": "website_submission", "title": "Snap Inc.: safety video for teens",
            "details": {"media": "video", "url": "https://example.org/snap-video", "summary": "A safety video."},
            "participants": [{"organization": "Snap Inc.", "role": "partner", "contact_email": "policy@snap.example"}],
        }, {"role": "partner", "identity": "policy@snap.example"})
        try:
            self.fire("web:late", "submit", {"role": "partner", "identity": "policy@snap.example"})
        except GuardFailedError as refusal:
            self.note(f"refused as expected: {refusal}")

    def achievements(self) -> None:
        for key, org, email, via, summary in ACHIEVEMENTS:
            if via == "mailbox":
                self.mailed_achievement(key, org, email, summary)
            else:
                self.create(key, {
                    "kind": "achievement", "title": f"{org}: {summary[:60]}",
                    "details": {"summary": summary, "received_via": via},
                    "participants": [{"organization": org, "role": "partner", "contact_email": email}],
                }, {"role": "partner", "identity": email})
                self.fire(key, "submit", {"role": "partner", "identity": email}, channel="website")
            for trigger in ("start_review", "accept", "include_in_final_report"):
                self.fire(key, trigger)

    def mailed_achievement(self, key: str, org: str, email: str, summary: str) -> None:
        """An achievement sent to the Secretariat's mailbox: a local Dovecot when installed (else filed as
        the intake would file it), then the sender confirms through the mailed link."""
        from email.message import EmailMessage

        from sqlalchemy import select

        from models import PendingSubmission
        from notifications import local_imap
        from notifications.mailbox import read_mailbox
        from states.mail_intake import file_message

        message = EmailMessage()
        message["From"], message["To"] = email, self.settings.secretariat_email
        message["Subject"], message["Message-ID"] = f"Achievement: {org}: {summary[:60]}", f"<{key}@x.example>"
        message.set_content(f"Organization: {org}\n\n{summary}\n")
        if local_imap.available():
            with local_imap.running_dovecot() as server:
                imap = imaplib.IMAP4(server.host, server.port)
                imap.login(server.username, server.password)
                imap.append("INBOX", None, None, message.as_bytes())
                imap.logout()
                settings = self.settings.model_copy(update={
                    "imap_host": server.host, "imap_port": server.port, "imap_ssl": False,
                    "imap_username": server.username, "imap_password": server.password})
                run = read_mailbox(self.db, settings, clock=self.clock)
            self.say(f"mailbox (local Dovecot): {run.summary()}: {run.filed[0].reason}")
        else:
            filed = file_message(self.db, message.as_bytes(), settings=self.settings, clock=self.clock)
            self.note(f"mailbox: Dovecot is not installed, the message was filed without IMAP: {filed.reason}")
        self.flow("dispatch")
        answer = self.visitor.act(email, org, "confirm")
        (self.say if answer.ok else self.note)(f"portal {answer.status}: {answer.message}")
        with self.db.transaction() as session:
            self.ids[key] = session.scalar(select(PendingSubmission.engagement_id).where(PendingSubmission.email == email))

    def public_achievements(self) -> None:
        """Two achievements through the website form: one confirmed by its sender, one not (yet)."""
        for org, email, title, summary in (
            ("Banco Continental", "lherrera@bancocontinental.example", "Banco Continental: red-flag typologies shared",
             "Typologies of synthetic-drug finance shared with five correspondent banks."),
            ("Discord", "policy@discord.example", "Discord: trusted-flagger programme",
             "A trusted-flagger programme with prevention NGOs."),
        ):
            answer = self.visitor.submit("achievement", organization=org, email=email, title=title, summary=summary)
            (self.say if answer.ok else self.note)(f"website form {answer.status}: {answer.message}")
        self.flow("dispatch")
        answer = self.visitor.act("lherrera@bancocontinental.example", "Banco Continental", "confirm")
        (self.say if answer.ok else self.note)(f"portal {answer.status}: {answer.message}")

    def invitations_2025(self) -> None:
        """Requests left open: their mailed links work after the replay (`engage serve`)."""
        for key, partner, swg, topic in (("pres:snap", "Snap Inc.", "2.2", "Safety by design for teens"),
                                         ("pres:discord", "Discord", "1.2", "Community moderation against drug sales")):
            self.create(key, {
                "kind": "swg_presentation", "title": f"{partner} at SWG {swg}: {topic}", "swg_code": swg,
                "details": {"topic": topic}, "participants": [{"organization": partner, "role": "presenter"}],
            })
            self.fire(key, "request_approval", SYSTEM)
        self.flow("dispatch")
        self.decide("pres:discord", "swg12.mexico@cochairs.example", "approve", "Bienvenidos")  # and invited
        self.say("left open: SWG 2.2 co-chairs on Snap, Discord's answer, Discord's achievement confirmation")

    def final_report(self) -> None:
        for key, *_ in ACHIEVEMENTS:
            self.fire(key, "publish")
        self.publish_due = True

    # --- the end --------------------------------------------------------------------------------
    def final_report_files(self) -> list[Path]:
        """The Secretariat quotes what it kept for the report, then the final-report flow writes it into the site."""
        from sqlalchemy import select

        from models import TransitionLog

        with self.db.transaction() as session:
            kept = session.scalars(select(TransitionLog.engagement_id).where(
                TransitionLog.trigger.in_(("include_in_final_report", "include_in_deliverable"))).distinct()).all()
        for engagement_id in sorted(kept):
            self.ids[f"report:{engagement_id}"] = engagement_id
            self.fire(f"report:{engagement_id}", "select_for_report")
        result = self.flow("report")
        self.say(f"final report {result['year']}: {len(result['files'])} file(s) in the site's report/ folder")
        return [Path(path) for path in result["files"]]

    def summary(self, elapsed: float) -> DemoSummary:
        from sqlalchemy import func, select

        from models import Engagement, OutboxMessage

        report_started = time.perf_counter()
        report_files = self.final_report_files()
        elapsed += time.perf_counter() - report_started
        self._runtime_cm.__exit__(None, None, None)
        self.visitor.close()
        self._portal_cm.__exit__(None, None, None)
        self.loop.close()
        engagements: dict[str, dict[str, int]] = defaultdict(dict)
        with self.db.transaction() as session:
            for kind, state, count in session.execute(
                select(Engagement.kind, Engagement.state, func.count()).group_by(Engagement.kind, Engagement.state)
                .order_by(Engagement.kind, Engagement.state)
            ):
                engagements[kind][state] = count
            by_status = Counter(dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()))
            languages = dict(session.execute(
                select(OutboxMessage.language, func.count()).where(OutboxMessage.status == "sent").group_by(OutboxMessage.language)
            ).all())
        mail = len(mailbox.Maildir(self.settings.maildir, create=True))
        site_pages = sum(1 for _ in self.settings.site_dir.rglob("*.html"))
        self.db.dispose()
        return DemoSummary(
            data_dir=self.settings.data_dir, engagements=dict(engagements), notifications_sent=by_status.get("sent", 0),
            notifications_by_language=languages, notifications_not_sent=sum(by_status.values()) - by_status.get("sent", 0),
            mail_messages=mail, site_dir=self.settings.site_dir, site_pages=site_pages, maildir=self.settings.maildir,
            flow_runs=self.flow_runs, elapsed_seconds=elapsed, notes=self.notes, report_files=report_files,
        )


def _print_summary(console: Any, summary: DemoSummary) -> None:
    from rich.table import Table

    table = Table(title="Engagements after the 2024 replay")
    table.add_column("kind")
    table.add_column("state")
    table.add_column("count", justify="right")
    for kind, states in summary.engagements.items():
        for state, count in states.items():
            table.add_row(kind, state, str(count))
    console.print(table)
    facts = Table(show_header=False, title="Summary")
    facts.add_column(style="bold")
    facts.add_column()
    languages = ", ".join(f"{lang} {count}" for lang, count in sorted(summary.notifications_by_language.items()))
    facts.add_row("notifications sent", f"{summary.notifications_sent} ({languages}); not sent: {summary.notifications_not_sent}")
    facts.add_row("mail folder", f"{summary.maildir} ({summary.mail_messages} messages, Maildir)")
    facts.add_row("website", f"{summary.site_dir / 'index.html'} ({summary.site_pages} pages)")
    for path in summary.report_files:
        if path.name.startswith("report-en."):
            facts.add_row(f"final report ({path.suffix[1:].upper()})", str(path))
    facts.add_row("Prefect flow runs", f"{summary.flow_runs} (ephemeral API, PREFECT_HOME={summary.data_dir / 'prefect'})")
    facts.add_row("elapsed", f"{summary.elapsed_seconds:.1f} s")
    console.print(facts)


STAFF = {"role": "secretariat", "identity": "secretariat@state.example"}
SYSTEM = {"role": "system", "identity": "2024 replay"}
DIALOGUES = [
    ("dialogue:MX", "Mexico", "Government of Mexico", "CONADIC", "enlace@conadic-mx.example",
     ["Química Andina S.A.", "Naviera del Pacífico", "Banco Continental"]),
    ("dialogue:FR", "France", "Government of France", "MILDECA", "international@mildeca-fr.example",
     ["Atlantique Maritime", "Colis Express Afrique", "Pharmacie Solidaire"]),
    ("dialogue:TH", "Thailand", "Government of Thailand", "ONCB", "oncb@thailand-gov.example", ["ShopGlobal Marketplace"]),
]
PRESENTATIONS = [
    ("pres:meta", "Meta", "2.2", "SWG 2.2 information-sharing session", "Information sharing on drug sales online"),
    ("pres:helix", "Helix AI Labs", "1.1", "SWG 1.1 March session", "AI detection of precursor listings"),
    ("pres:atlantique", "Atlantique Maritime", "3.1", "SWG 3.1 April session", "Port workers as prevention partners"),
]
SUBMISSIONS = [
    ("web:rapid", "Rapid Consign Ltd", "ogrant@rapidconsign.example", "video", "How we screen parcels for precursors"),
    ("web:colis", "Colis Express Afrique", "adiop@colis-express.example", "presentation", "Contrôle des colis en Afrique de l'Ouest"),
]
ACHIEVEMENTS = [
    ("ach:meta", "Meta", "policy@meta.example", "website", "Removed drug-sale listings at scale with new classifiers"),
    ("ach:x", "X Corp.", "safety@x.example", "mailbox", "Search interventions pointing to treatment resources"),
]


def main(argv: list[str] | None = None) -> None:
    arguments = sys.argv[1:] if argv is None else argv
    run_demo(Path(arguments[0]) if arguments else Path("engage-data"))


if __name__ == "__main__":
    configure_prefect()
    main()
