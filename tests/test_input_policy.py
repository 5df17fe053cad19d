"""The input policy: every model refuses hostile values naming the field, or accepts only what every layer can carry."""

from __future__ import annotations

import copy
import re
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel

from states.directory import CoChairInput, SwgInput, WindowInput, WorkingGroupInput
from states.inputs import (
    INT32_MAX, AchievementDetails, Actor, ContactInput, DialogueDetails, DialogueReportInput, EngagementInput, ForumDetails,
    InputError, MeetingDetails, MeetingInput, OrganizationInput, OutcomeInput, ParticipantInput, PartnerRow,
    PresentationDetails, RecommendationDetails, SubmissionDetails, ToolkitDetails, TransitionRequest, _PLAIN_ADDRESS,
    _plain_address, clean_line, clean_text, parse,
)
from tests.hostile import hostile_number, hostile_text
from tests.world import REPORT

# (model, a valid input, the fields to attack, the multi-line ones among them)
MODELS: list[tuple[type[BaseModel], dict[str, Any], list[str], set[str]]] = [
    (Actor, {"role": "secretariat", "identity": "staff@state.example"}, ["identity", "role"], set()),
    (OrganizationInput, {"name": "Acme", "type": "partner", "industry": "chemical", "country": "DE", "region": "Europe"},
     ["name", "region", "country", "industry"], set()),
    (ContactInput, {"organization": "Acme", "name": "Ann", "email": "ann@acme.example", "opt_outs": ["reminder"]},
     ["organization", "name", "email", "language", "opt_outs.0"], set()),
    (PartnerRow, {"name": "Acme", "industry": "chemical", "country": "DE", "region": "EU", "contact_name": "Ann",
                  "contact_email": "ann@acme.example"}, ["name", "country", "region", "contact_name", "contact_email"], set()),
    (ParticipantInput, {"organization": "Meta", "role": "presenter", "contact_email": "policy@meta.example"},
     ["organization", "contact_email", "role"], set()),
    (MeetingInput, {"kind": "forum", "title": "Banking forum", "starts_on": "2024-05-01", "location": "Paris"},
     ["title", "location", "starts_on", "swg_code"], set()),
    (DialogueDetails, {"organizing_agency": "CONADIC"}, ["organizing_agency", "planned_on"], set()),
    (PresentationDetails, {"topic": "Detecting drug sales"}, ["topic"], set()),
    (MeetingDetails, {"purpose": "Youth prevention"}, ["purpose"], {"purpose"}),
    (ToolkitDetails, {"url": "https://toolkit.example/ppp"}, ["url"], set()),
    (SubmissionDetails, {"media": "video", "url": "https://videos.example/a", "summary": "How we screen"},
     ["url", "summary", "language"], {"summary"}),
    (RecommendationDetails, {"topic": "policy", "text": "Share alerts"}, ["text", "language"], {"text"}),
    (AchievementDetails, {"summary": "Removed listings"}, ["summary", "received_via"], {"summary"}),
    (ForumDetails, {"focus": "fatf", "purpose": "Illicit finance"}, ["purpose"], {"purpose"}),
    (EngagementInput, {"kind": "recommendation", "title": "Share alerts", "meeting_id": 1, "country": "MX",
                       "details": {"topic": "policy", "text": "Share alerts"},
                       "participants": [{"organization": "Meta", "role": "partner"}]},
     ["title", "meeting_id", "country", "swg_code", "details.text", "participants.0.organization"], {"details.text"}),
    (DialogueReportInput, dict(REPORT, recommendations="More data sharing"),
     ["organizing_agency", "narrative", "recommendations", "public_partners", "private_partners", "held_on",
      "areas_of_discussion.0"], {"narrative", "recommendations"}),
    (OutcomeInput, {"summary": "Agreed", "commitments": ["Share"]}, ["summary", "commitments.0"], {"summary"}),
    (TransitionRequest, {"trigger": "hold", "actor": {"role": "secretariat", "identity": "staff"}, "comment": "ok",
                         "flow_run_id": "run-1", "idempotency_key": "k-1", "expected_version": 3},
     ["trigger", "comment", "flow_run_id", "idempotency_key", "expected_version", "actor.identity"], {"comment"}),
    (WorkingGroupInput, {"code": "1", "focus": "Supply"}, ["focus", "code"], set()),
    (CoChairInput, {"organization": "UNODC", "name": "A Chair", "email": "chair@unodc.example"},
     ["organization", "name", "email"], set()),
    (SwgInput, {"code": "2.2", "title": "Online markets", "approval_policy": "quorum", "quorum": 1,
                "co_chairs": [{"organization": "UNODC", "name": "A Chair", "email": "chair@unodc.example"}]},
     ["title", "quorum", "co_chairs.0.name"], set()),
    (WindowInput, {"kind": "recommendation", "opens_on": "2024-01-01", "closes_on": "2024-09-30"}, ["kind"], set()),
]
ALLOWED_FORMAT = {"\u200c", "\u200d"}


def put(data: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """A copy of ``data`` with ``value`` at the dotted ``path`` (numbers index lists)."""
    result = copy.deepcopy(data)
    *parents, last = path.split(".")
    target: Any = result
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return result


def get(data: Any, path: str) -> Any:  # noqa: ANN401 - whatever is there
    for part in path.split("."):
        data = data[int(part)] if part.isdigit() else data.get(part)
    return data


def assert_carriable(value: object, multiline: bool) -> None:
    """What the policy lets through: NFC, UTF-8, no NUL, line breaks only where allowed, 32-bit integers."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        assert -INT32_MAX - 1 <= value <= INT32_MAX
        return
    if isinstance(value, list | dict):
        for item in value.values() if isinstance(value, dict) else value:
            assert_carriable(item, multiline)
        return
    text = str(value)
    text.encode("utf-8")  # no lone surrogates
    assert unicodedata.normalize("NFC", text) == text
    assert "\x00" not in text
    for char in text:
        category = unicodedata.category(char)
        if multiline and char in "\n\t":
            continue
        assert category not in {"Cc", "Zl", "Zp", "Cs"}, (char, text)
        assert category != "Cf" or char in ALLOWED_FORMAT, (char, text)


CASES = [(model, base, path, path in multiline) for model, base, paths, multiline in MODELS for path in paths]


@pytest.mark.parametrize(("model", "base", "path", "multiline"), CASES,
                         ids=[f"{model.__name__}.{path}" for model, _, path, _ in CASES])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(hostile_text, hostile_number))
def test_every_field_refuses_naming_itself_or_accepts_only_what_every_layer_carries(
        model: type[BaseModel], base: dict[str, Any], path: str, multiline: bool, value: object) -> None:
    parse(model, base)  # the base is valid: the refusal below is about the attacked field
    try:
        accepted = parse(model, put(base, path, value))
    except InputError as error:
        assert path.split(".")[0] in str(error), str(error)
    else:
        assert_carriable(get(accepted.model_dump(mode="json"), path), multiline)


def test_one_line_fields_refuse_line_breaks_and_format_characters_by_name() -> None:
    for value, shown in [("a\x85b", "U+0085"), ("a\u2028b", "U+2028 LINE SEPARATOR"), ("\u202eevil", "U+202E"),
                         ("a\rb", "U+000D"), ("a\x00b", "U+0000")]:
        with pytest.raises(InputError, match=f"title: must be a single line.*found {re.escape(shown)}"):
            parse(EngagementInput, {"kind": "achievement", "title": f"Title {value}", "details": {"summary": "s"}})
    assert clean_line("  Cafe\u0301 \u200d ") == "Caf\u00e9 \u200d"


def test_multi_line_fields_normalise_line_breaks_and_refuse_nul() -> None:
    assert clean_text("one\r\ntwo\rthree\x85four\u2028five\u2029six\tend") == "one\ntwo\nthree\nfour\nfive\n\nsix\tend"
    with pytest.raises(InputError, match=r"data\.narrative: must not contain control.*U\+0000"):
        parse(DialogueReportInput, dict(REPORT, narrative="before\x00after"), "data.")


def test_numbers_are_strict_and_fit_the_database() -> None:
    achievement = {"kind": "achievement", "title": "Listings removed", "details": {"summary": "s"}}
    for value, message in [(True, "valid integer"), ("3", "valid integer"), (2**64, "less than or equal to 2147483647"),
                           (0, "greater than or equal to 1")]:
        with pytest.raises(InputError, match=f"meeting_id: Input should be (a )?{message}"):
            parse(EngagementInput, achievement | {"meeting_id": value})
    with pytest.raises(InputError, match="data.public_partners: Input should be less than or equal to 2147483647"):
        parse(DialogueReportInput, dict(REPORT, public_partners=10**30), "data.")


def test_the_same_participant_twice_is_named() -> None:
    twice = [{"organization": "Meta", "role": "presenter"}, {"organization": "Meta", "role": "presenter"}]
    with pytest.raises(InputError, match="participants: Meta is listed twice as presenter"):
        parse(EngagementInput, {"kind": "swg_presentation", "title": "Meta presents", "swg_code": "2.2",
                                "details": {"topic": "Detecting"}, "participants": twice})


def test_partner_text_carries_its_own_language_or_the_forms() -> None:
    spec = {"kind": "recommendation", "title": "Share alerts", "details": {"topic": "policy", "text": "Compartir"}}
    assert parse(EngagementInput, spec).details["language"] == "en"
    assert parse(EngagementInput, spec, language="es").details["language"] == "es"
    spec["details"]["language"] = "fr"
    assert parse(EngagementInput, spec, language="es").details["language"] == "fr"
    with pytest.raises(InputError, match="details.language: Input should be 'en', 'es' or 'fr'"):
        parse(EngagementInput, put(spec, "details.language", "de"))


def test_addresses_the_mailer_cannot_send_to_are_refused() -> None:
    for address, message in [("jos\u00e9@example.org", "Internationalized characters before the @"),
                             ("a" * 140 + "@example.org", "at most 150 characters"),
                             ("ann@exa\u2028mple.org", "must be a single line")]:
        with pytest.raises(InputError, match=f"email: .*{message}"):
            parse(ContactInput, {"organization": "Acme", "name": "Ann", "email": address})
    assert parse(ContactInput, {"organization": "A", "name": "B", "email": "Ann@B\u00fccher.example"}).email == \
        "Ann@b\u00fccher.example"


@settings(max_examples=300, deadline=None)
@given(address=st.from_regex(_PLAIN_ADDRESS, fullmatch=True))
def test_the_fast_path_for_plain_addresses_agrees_with_email_validator(address: str) -> None:
    plain = _plain_address(address)
    if plain is not None:
        assert plain == validate_email(address, check_deliverability=False, allow_smtputf8=False).normalized


@pytest.mark.parametrize("address", [
    f"{'a' * 59}@{'b' * 63}.{'c' * 63}.{'d' * 63}.org",  # 255 characters, each part within its limit
    "ann@ab--cd.example", "ann@mail.q1--x.example",      # RFC 5890's reserved labels (?? then --, not xn)
])
def test_addresses_the_fast_path_cannot_judge_take_the_full_check(address: str) -> None:
    assert _plain_address(address) is None
    with pytest.raises(EmailNotValidError):
        validate_email(address, check_deliverability=False, allow_smtputf8=False)


@pytest.mark.parametrize(("hours", "named"), [
    ({"start_time": "09:30"}, "give both start_time and end_time, or neither"),
    ({"start_time": "09:30", "end_time": "11:00"}, "a meeting with hours needs its time_zone"),
    ({"start_time": "11:00", "end_time": "09:30", "time_zone": "Europe/Vienna"}, "end_time is not after start_time"),
    ({"start_time": "09:30", "end_time": "11:00", "time_zone": "Mars/Olympus"}, "time_zone: unknown time zone 'Mars/Olympus'"),
    ({"start_time": "09:30+02:00", "end_time": "11:00+02:00", "time_zone": "Europe/Vienna"}, "without an offset"),
])
def test_a_meetings_hours_are_refused_naming_what_is_wrong(hours: dict[str, str], named: str) -> None:
    meeting = {"kind": "swg_session", "title": "SWG 1.1 March session", "starts_on": "2024-03-19"}
    with pytest.raises(InputError, match=re.escape(named)):
        parse(MeetingInput, meeting | hours)
    overnight = parse(MeetingInput, meeting | {"ends_on": "2024-03-20", "start_time": "22:00", "end_time": "02:00",
                                               "time_zone": "Asia/Tokyo"})
    assert (overnight.start_time.hour, overnight.end_time.hour, overnight.time_zone) == (22, 2, "Asia/Tokyo")
