"""The project's languages: message catalogs (read from .po files at run time), country names, dates.

Every string a person reads (site, report, mails) goes through gettext, whose Spanish and French
catalogs live in the top-level ``locale/<lang>.po`` (``make catalogs`` keeps them current) and are
read with Babel on first use, so no compile step can be forgotten. Country names come from
pycountry's ISO 3166 catalogs.
"""

from __future__ import annotations

import gettext
import io
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path

import pycountry
from babel.dates import format_date, format_datetime, get_date_format, get_datetime_format, get_time_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict

from states.markers import N_, N_plural  # noqa: F401 - the markers, for every module that imports them from here

LANGUAGES: tuple[str, ...] = ("en", "es", "fr")
LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français"}
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
#: Babel locales for dates: the Coalition writes "12 February 2024" in English.
BABEL_LOCALES = {"en": "en_GB"}


class Phrase(BaseModel):
    """A sentence the engine writes, kept as a catalog msgid and its parameters: each page says it in its language.

    With a ``plural``, ``count`` chooses the form (ngettext). Parameters that are phrases are said in
    the same language, dates (typed, never guessed from text) are written out as long dates; the others are shown as they are, escaped.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    msgid: str
    plural: str | None = None
    count: int | None = None
    params: dict[str, Phrase | date | str | int] = {}

    @classmethod
    def of(cls, message: str | tuple[str, str], count: int | None = None, /, **params: Phrase | date | str | int) -> Phrase:
        """``Phrase.of(N_("..."), name=value)`` or ``Phrase.of(N_plural("...", "..."), count, name=value)``."""
        if isinstance(message, tuple):
            return cls(msgid=message[0], plural=message[1], count=count, params=params)
        return cls(msgid=message, params=params)

    def html(self, language: str) -> Markup:
        """The sentence in ``language``, its parameters escaped."""
        catalog = translations(language)
        text = (catalog.ngettext(self.msgid, self.plural, self.count or 0) if self.plural is not None
                else catalog.gettext(self.msgid))
        return Markup(text) % {name: _parameter(value, language) for name, value in self.params.items()}


def _parameter(value: Phrase | date | str | int, language: str) -> Markup | str | int:
    if isinstance(value, Phrase):
        return value.html(language)
    if isinstance(value, date):  # only typed dates: text that looks like a day is shown as written
        return long_date(value, language)
    return value


#: Msgids that come from data the extraction cannot see (the regions of the reference data, the
#: media of website submissions, the channel an achievement came by), translated where shown.
DATA_MESSAGES: tuple[str, ...] = (
    N_("Africa"), N_("Americas"), N_("Asia-Pacific"), N_("Europe"), N_("Global"), N_("Middle East"),
    N_("Video"), N_("Presentation"), N_("Document"), N_("website"), N_("mailbox"),
    N_("Global Coalition Secretariat"),  # the default signature of mails (settings.secretariat_name)
)


@lru_cache(maxsize=None)
def translations(language: str) -> gettext.NullTranslations:
    """The gettext catalog of ``language`` (English: the msgids themselves)."""
    if language == "en":
        return gettext.NullTranslations()
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    with (LOCALE_DIR / f"{language}.po").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@lru_cache(maxsize=None)
def _country_catalog(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)


@lru_cache(maxsize=4096)
def country_name(code: str, language: str) -> str:
    """The country of ISO 3166 ``code`` named in ``language`` (the code itself if unknown)."""
    country = pycountry.countries.get(alpha_2=code.upper()) if code else None
    if country is None:
        return code
    if language == "en":
        return getattr(country, "common_name", None) or country.name
    return _country_catalog(language).gettext(country.name)


def long_date(moment: date | datetime, language: str) -> str:
    """``moment`` as a long date in ``language`` (12 February 2024, 12 de febrero de 2024, 1er février 2024)."""
    return _long_day(moment.date() if isinstance(moment, datetime) else moment, language)


def long_datetime(moment: datetime, language: str) -> str:
    """``moment`` as a long date and a time in its own zone, UTC if it has none (12 February 2024, 14:05 UTC)."""
    locale = BABEL_LOCALES.get(language, language)
    pattern = (get_datetime_format("medium", locale=locale)
               .replace("{1}", _long_date_pattern(moment.day, locale))
               .replace("{0}", get_time_format("short", locale=locale).pattern + " z"))
    return format_datetime(moment, pattern, tzinfo=moment.tzinfo or timezone.utc, locale=locale)


@lru_cache(maxsize=4096)
def _long_day(day: date, language: str) -> str:
    locale = BABEL_LOCALES.get(language, language)
    return format_date(day, _long_date_pattern(day.day, locale), locale=locale)


def _long_date_pattern(day: int, locale: str) -> str:
    """The locale's long date pattern; French writes the first of the month as an ordinal (1er)."""
    pattern = get_date_format("long", locale=locale).pattern
    return pattern.replace("d", "d'er'", 1) if day == 1 and locale == "fr" else pattern
