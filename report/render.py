"""The Coalition's final report on private-sector engagement: HTML (charts inline) and PDF (WeasyPrint, A4)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Literal

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from report.charts import BLUE, GREEN, GREY, ORANGE, Chart, bar_chart
from report.figures import TIMELINE_DETAIL_LIMIT, YearFigures
from report.texts import StaffTexts
from website.i18n import BABEL_LOCALES, LANGUAGES, N_, N_plural, country_name, long_date, translations
from website.render import FUTURE_INDUSTRIES, INDUSTRY_LABELS, KIND_TITLES, PRIORITY_INDUSTRIES, prefix

Format = Literal["html", "pdf"]
TOPIC_LABELS = {
    "advocacy_campaigns": N_("Advocacy campaigns"), "resource_mobilization": N_("Resource mobilization"),
    "information_sharing": N_("Information sharing"),
    "innovative_products_and_services": N_("Innovative products and services"), "policy": N_("Policy"),
}
EVENT_LABELS = {"held": N_("held"), "presented": N_("presented"), "launched": N_("launched")}


def _environment(language: str) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    environment.filters.update(day=lambda moment: long_date(moment, language),
                               month=lambda moment: format_date(moment, "LLLL y", locale=BABEL_LOCALES.get(language, language)),
                               country=lambda code: country_name(code, language) if code else "")
    # Msgids that come from data (regions, labels) go through `tr`: a plain str, escaped like any value.
    environment.globals["tr"] = translations(language).gettext
    environment.globals.update(lang=language, kind_titles=KIND_TITLES, industry_labels=INDUSTRY_LABELS,
                               topic_labels=TOPIC_LABELS, priority_industries=PRIORITY_INDUSTRIES,
                               future_industries=FUTURE_INDUSTRIES, event_labels=EVENT_LABELS, languages=LANGUAGES,
                               timeline_detail_limit=TIMELINE_DETAIL_LIMIT)
    return environment


def charts(figures: YearFigures, language: str) -> dict[str, Chart]:
    """The report's charts, labelled in ``language``."""
    _, ngettext = translations(language).gettext, translations(language).ngettext
    result: dict[str, Chart] = {}
    if figures.dialogues_by_country:
        names = [country_name(code, language) if code else _("Unspecified") for code, _n in figures.dialogues_by_country]
        counts = [count for _c, count in figures.dialogues_by_country]
        result["dialogues"] = bar_chart(names, [(_("National dialogues"), counts, BLUE)], alternative=_(
            "Bar chart of national dialogues held by country: %(list)s.") % {
            "list": "; ".join(f"{name} {count}" for name, count in zip(names, counts))})
    if figures.partners_by_industry:
        rows = figures.partners_by_industry
        names = [_(INDUSTRY_LABELS.get(industry, industry)) for industry, _n in rows]
        groups = ((_("Priority industries"), PRIORITY_INDUSTRIES, BLUE), (_("Future areas"), FUTURE_INDUSTRIES, GREEN))
        series = [(label, [count if industry in members else 0 for industry, count in rows], colour)
                  for label, members, colour in groups]
        named = {industry for _label, members, _colour in groups for industry in members}
        series.append((_("Other industries"), [0 if industry in named else count for industry, count in rows], GREY))
        result["industries"] = bar_chart(
            names, [one for one in series if any(one[1])], stacked=True,
            alternative=_("Bar chart of partners engaged by industry: %(list)s.") % {
                "list": "; ".join(f"{name} {count}" for name, (_i, count) in zip(names, rows))})
    if figures.swg_presentations:
        rows = figures.swg_presentations
        labels = [_("SWG %(swg)s") % {"swg": row.swg} for row in rows]

        def counted(message: tuple[str, str], count: int) -> str:
            return ngettext(*message, count) % {"num": count}

        result["swg"] = bar_chart(labels, [
            (_("Proposed"), [r.proposed for r in rows], GREY), (_("Approved"), [r.approved for r in rows], BLUE),
            (_("Declined"), [r.declined for r in rows], ORANGE), (_("Presented"), [r.presented for r in rows], GREEN),
        ], horizontal=False, alternative=_("Bar chart of invitations to present by Sub-Working Group: %(list)s.") % {
            "list": "; ".join(_("SWG %(swg)s: %(p)s, %(a)s, %(d)s, %(x)s") % {
                "swg": r.swg, "p": counted(N_plural("%(num)s proposed", "%(num)s proposed"), r.proposed),
                "a": counted(N_plural("%(num)s approved", "%(num)s approved"), r.approved),
                "d": counted(N_plural("%(num)s declined", "%(num)s declined"), r.declined),
                "x": counted(N_plural("%(num)s presented", "%(num)s presented"), r.presented)} for r in rows)})
    if figures.recommendations_by_topic:
        rows = figures.recommendations_by_topic
        names = [_(TOPIC_LABELS.get(topic, topic)) for topic, _b, _a in rows]
        deadline = long_date(figures.early_deadline, language) if figures.early_deadline else ""
        result["recommendations"] = bar_chart(
            names, [(_("By %(day)s") % {"day": deadline}, [b for _t, b, _a in rows], BLUE),
                    (_("After %(day)s") % {"day": deadline}, [a for _t, _b, a in rows], ORANGE)], stacked=True,
            alternative=_("Bar chart of recommendations by category, received by and after the early deadline: %(list)s.") % {
                "list": "; ".join(f"{name} {b} + {a}" for name, (_t, b, a) in zip(names, rows))})
    return result


def render_html(figures: YearFigures, language: str, *, site_home: str | None = None, generated_on: date,
                texts: StaffTexts | None = None) -> str:
    """The report as one self-contained HTML page; ``site_home`` links back to the website when published there.

    ``texts``: the foreword and executive summary staff wrote in ``language`` (see report/texts.py); without
    a summary the report writes one from the figures.
    """
    environment = _environment(language)
    return environment.get_template("report.html").render(
        figures=figures, charts=charts(figures, language), site_home=site_home, generated_on=generated_on,
        texts=texts or StaffTexts(),
    )


def render_pdf(html: str) -> bytes:
    """The report's HTML laid out on A4 pages by WeasyPrint (page numbers, table of contents, vector charts).

    A tagged PDF/UA-1 document: headings, tables and lists keep their structure for assistive technology,
    each chart has its text alternative as alt text (the SVG's ``<title>``), and the title, author, subject
    and language come from the page's ``<title>``, ``<meta>`` and ``lang``.
    """
    # WeasyPrint warns about every CSS declaration it does not apply: here the charts' SVG style attributes
    # (it draws them all the same) and the screen-only media query, some 170 lines a PDF in a person's
    # console or a flow run's log. Its errors (a resource it could not use) still show.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    from weasyprint import HTML

    return HTML(string=html, base_url=".").write_pdf(pdf_variant="pdf/ua-1")


def site_home_from_report(language: str) -> str:
    """Where a report published in the site's ``report/`` folder finds the home page of its language."""
    return f"../{prefix(language)}index.html"


__all__ = ["charts", "render_html", "render_pdf", "site_home_from_report"]
