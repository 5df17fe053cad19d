"""Names the engine keeps as codes (states, steps, channels, notice types) as catalog msgids.

The engine's messages name a state or a step through ``Phrase.of(state_word(code))``; the portal's
templates show a code through their ``word`` filter. A code with no msgid here reads as its name with
spaces (a new state, until it is added).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from website.i18n import N_, Phrase

WORDS: dict[str, str] = {
    # states of the lifecycles (states/lifecycles/)
    "accepted": N_("accepted"), "approved": N_("approved"), "cancelled": N_("cancelled"),
    "closed_unreported": N_("closed without a report"), "convened": N_("convened"), "declined": N_("declined"),
    "declined_by_partner": N_("declined by the partner"), "draft": N_("draft"), "drafted": N_("drafted"),
    "expired": N_("expired"), "held": N_("held"), "in_deliverable": N_("in a Coalition deliverable"),
    "in_final_report": N_("in the final report"), "invitations_sent": N_("invitations sent"),
    "invitation_sent": N_("invitation sent"), "launched": N_("launched"), "outcome_recorded": N_("outcome recorded"),
    "planned": N_("planned"), "presentation_scheduled": N_("presentation scheduled"), "presented": N_("presented"),
    "proposed": N_("proposed"), "published": N_("published"), "rejected": N_("rejected"),
    "report_submitted": N_("report submitted"), "scheduled": N_("scheduled"), "screening": N_("screening"),
    "submitted": N_("submitted"), "under_review": N_("under review"), "unpublished": N_("unpublished"),
    "withdrawn": N_("withdrawn"), "awaiting_approval": N_("awaiting approval"),
    # steps of the lifecycles (a link's buttons, the board's latest changes)
    "approve": N_("Approve"), "decline": N_("Decline"), "accept": N_("Accept the invitation"),
    "decline_invitation": N_("Decline the invitation"), "submit_report": N_("Submit the report"),
    "confirm": N_("Confirm and submit"), "create": N_("Create"), "refused": N_("Refused"), "cancel": N_("Cancel"),
    "close_unreported": N_("Close without a report"), "convene": N_("Convene"), "escalate": N_("Escalate"),
    "expire": N_("Expire"), "hold": N_("Hold"), "include_in_deliverable": N_("Include in a deliverable"),
    "include_in_final_report": N_("Include in the final report"), "launch": N_("Launch"), "present": N_("Present"),
    "publish": N_("Publish"), "record_outcome": N_("Record the outcome"),
    "record_presentation": N_("Record the presentation"), "reject": N_("Reject"), "remind": N_("Remind"),
    "request_approval": N_("Request approval"), "request_changes": N_("Request changes"),
    "resubmit": N_("Resubmit"), "return_for_revision": N_("Return for revision"), "schedule": N_("Schedule"),
    "schedule_presentation": N_("Schedule the presentation"), "select_for_report": N_("Select for the report"),
    "send_invitation": N_("Send the invitation"), "send_invitations": N_("Send the invitations"),
    "start_review": N_("Start the review"), "start_screening": N_("Start screening"), "submit": N_("Submit"),
    "unpublish": N_("Unpublish"), "withdraw": N_("Withdraw"),
    # channels
    "cli": N_("command line"), "flow": N_("workflow"), "prefect_ui": N_("Prefect form"),
    "email_link": N_("e-mail link"), "mailbox": N_("mailbox"), "website": N_("website"), "import": N_("import"),
    # who a step waits on
    "co_chair": N_("co-chair"), "partner": N_("partner"), "secretariat": N_("Secretariat"),
    "national_authority": N_("national authority"), "system": N_("system"),
    # roles of a participant (besides partner)
    "presenter": N_("presenter"), "invitee": N_("invitee"), "organizer": N_("organizer"), "host": N_("host"),
    # notice types a person can unsubscribe from
    "invitation": N_("invitations"), "approval_request": N_("approval requests"), "reminder": N_("reminders"),
    "escalation": N_("escalations"), "decision": N_("decisions"), "publication_notice": N_("publication notices"),
    "window_closing": N_("notices that a submission window closes"),
    "dialogue_report_received": N_("acknowledgements of dialogue reports"),
    "submission_confirmation": N_("submission confirmations"), "sign_in": N_("sign-in links"),
    # kinds of material
    "video": N_("Video (link)"), "presentation": N_("Presentation (PDF or PPTX)"),
    "document": N_("Document (PDF or DOCX)"),
    # topics of recommendations
    "advocacy_campaigns": N_("Advocacy campaigns"), "resource_mobilization": N_("Resource mobilization"),
    "information_sharing": N_("Information sharing"),
    "innovative_products_and_services": N_("Innovative products and services"), "policy": N_("Policy"),
    # kinds of engagement (the mails' words for them, notifications/templates.py)
    "national_dialogue": N_("national dialogue"), "swg_presentation": N_("Sub-Working Group presentation"),
    "alliance_meeting": N_("Prevent Alliance meeting"),
    "toolkit_launch": N_("public-private partnership toolkit launch"),
    "website_submission": N_("website contribution"), "recommendation": N_("recommendation"),
    "achievement": N_("private-sector achievement"), "private_sector_forum": N_("private-sector forum"),
}


A_KIND: dict[str, str] = {
    "national_dialogue": N_("a national dialogue"),
    "swg_presentation": N_("an invitation to present at a Sub-Working Group"),
    "alliance_meeting": N_("a Prevent Alliance meeting"),
    "toolkit_launch": N_("a public-private partnership toolkit launch"),
    "website_submission": N_("a website exchange of experiences"),
    "recommendation": N_("a recommendation from a public-private partner"),
    "achievement": N_("a private-sector achievement"), "private_sector_forum": N_("a private-sector forum"),
}
"""A kind of engagement with its article, inside a sentence ("a partner may not ... a national dialogue")."""

DECISION_WORDS = {"approve": N_("approve"), "decline": N_("decline")}
"""A co-chair's decision inside a sentence ("decided to approve")."""
CHANNEL_WORDS = {code: WORDS[code] for code in ("cli", "flow", "prefect_ui", "email_link", "mailbox", "website", "import")}


def state_word(code: str) -> str:
    """The msgid naming ``code`` (itself, with spaces, when it has none)."""
    return WORDS.get(code) or code.replace("_", " ")


def word(code: object, gettext: Callable[[str], str]) -> str:
    """The name of ``code`` through ``gettext``; the code with spaces when it has no name here."""
    text = str(code or "")
    return gettext(WORDS[text]) if text in WORDS else text.replace("_", " ")


def a_kind(code: str) -> Phrase:
    """The kind ``code`` with its article, as a phrase."""
    return Phrase.of(A_KIND.get(code) or code.replace("_", " "))


def series(items: Sequence[Phrase | str], joiner: str = N_("%(first)s, %(rest)s")) -> Phrase | str:
    """``items`` (at least one) joined in the reader's language: by commas, or by ``joiner`` ("; ", " or ")."""
    first, *rest = items
    return Phrase.of(joiner, first=first, rest=series(rest, joiner)) if rest else first


def counts(first: tuple[tuple[str, str], int], *rest: tuple[tuple[str, str], int]) -> Phrase:
    """Counts (two or more), each by its own plural message (``N_plural``), joined by commas."""
    said = [Phrase.of(message, count, num=count) for message, count in (first, *rest)]
    return Phrase.of(N_("%(first)s, %(rest)s"), first=said[0], rest=series(said[1:]))
