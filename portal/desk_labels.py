"""The words the desk shows for the engine's stored values: kinds, states, roles, steps, channels."""

from __future__ import annotations

import re
from datetime import date, datetime

from portal.model_forms import label_of
from states.lifecycles import get_lifecycle

KINDS = {
    "national_dialogue": "National dialogue", "swg_presentation": "SWG presentation",
    "alliance_meeting": "Prevent Alliance meeting", "toolkit_launch": "Toolkit launch",
    "website_submission": "Website submission", "recommendation": "Recommendation", "achievement": "Achievement",
    "private_sector_forum": "Private-sector forum",
}
ROLES = {"secretariat": "Secretariat", "co_chair": "Co-chairs", "partner": "Partner",
         "national_authority": "National authority", "system": "System"}
PEOPLE = {"secretariat": "Secretariat staff", "co_chair": "Co-chair", "partner": "Partner",
          "national_authority": "National authority", "system": "Automatic"}
CHANNELS = {"cli": "Command line", "flow": "Scheduled flow", "prefect_ui": "Prefect form", "email_link": "E-mail link",
            "mailbox": "Mailbox", "website": "Desk or portal", "import": "Import"}
MAIL_STATUS = {"pending": "Waiting to be sent", "sending": "Being sent", "sent": "Sent", "dead": "Failed for good",
               "suppressed": "Not sent (opted out)"}
INDUSTRIES = {"e_commerce": "E-commerce", "artificial_intelligence": "Artificial intelligence"}


def kind(value: str) -> str:
    return KINDS.get(value, label_of(value))


def state(value: str) -> str:
    return label_of(value) if value else "(new)"


def role(value: str | None) -> str:
    return ROLES.get(value or "", label_of(value or "")) or "Nobody"


def person(value: str) -> str:
    return PEOPLE.get(value, label_of(value))


def step(value: str) -> str:
    return "Created" if value == "create" else label_of(value)


def channel(value: str) -> str:
    return CHANNELS.get(value, label_of(value))


def mail_status(value: str) -> str:
    return MAIL_STATUS.get(value, label_of(value))


def industry(value: str | None) -> str:
    return INDUSTRIES.get(value or "", label_of(value or ""))


def state_description(kind_value: str, value: str) -> str:
    try:
        return get_lifecycle(kind_value).state(value).description
    except Exception:  # noqa: BLE001 - a stored state no lifecycle declares any more
        return ""


def day(value: date | datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


def moment(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def language(value: str) -> str:
    return label_of(value)


def value(raw: object) -> str:
    """A stored detail as words: a code ('information_sharing') as its label, a timestamp to the minute,
    a list joined; anything else as it is."""
    if isinstance(raw, str):
        if re.fullmatch(r"[a-z][a-z_]*", raw):
            return label_of(raw)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}.*", raw):
            return f"{raw[:10]} {raw[11:16]} UTC"
        return raw
    if isinstance(raw, list):
        return ", ".join(value(item) for item in raw)
    return "" if raw is None else str(raw)
