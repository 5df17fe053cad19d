"""The report's charts: matplotlib drawings as inline SVG (vectors in the PDF too), each with a text alternative."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass

import matplotlib

matplotlib.use("svg")
from matplotlib import pyplot  # noqa: E402 - after choosing the backend
from markupsafe import Markup, escape  # noqa: E402

matplotlib.rcParams.update({
    "svg.hashsalt": "coalition-engage",  # stable ids: the same figures give the same bytes
    # Text as SVG text (the font named with sans-serif fallbacks), not glyph outlines: WeasyPrint sets it with
    # the PDF's own embedded font in half the time it takes to draw the outlines, and the words stay searchable.
    "svg.fonttype": "none",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
})
BLUE, ORANGE, GREY, GREEN = "#0a3557", "#b35900", "#6b6b6b", "#2f6b2f"
_SVG_START = re.compile(r"^.*?<svg ", re.DOTALL)
_SIZE = re.compile(r'\s(width|height)="[^"]*"')
_ID_USES = re.compile(r'(\sid="|href="#|url\(#)')
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


@dataclass(frozen=True)
class Chart:
    """An SVG drawing and the sentence that says what it shows."""

    svg: Markup
    alternative: str


def _svg(figure, alternative: str) -> Chart:  # noqa: ANN001 - a matplotlib Figure
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    pyplot.close(figure)
    svg = _SVG_START.sub("<svg ", buffer.getvalue(), count=1)
    svg = _METADATA.sub("", svg, count=1)  # matplotlib's RDF metadata, which the HTML validator refuses
    # matplotlib numbers ids per drawing (patch_1, text_2...): prefix them so that the charts of one
    # page never share an id (valid HTML, one anchor each in the PDF).
    prefix = "chart-" + hashlib.sha256(alternative.encode()).hexdigest()[:8] + "-"
    svg = _ID_USES.sub(lambda found: found.group(1) + prefix, svg)
    head, rest = svg.split(">", 1)
    head = _SIZE.sub("", head)  # scale with the page; the viewBox keeps the proportions
    label = escape(alternative)
    svg = f'{head} role="img" aria-label="{label}" width="100%"><title>{label}</title>{rest}'
    return Chart(Markup(svg), alternative)


def bar_chart(labels: list[str], series: list[tuple[str, list[int], str]], *, alternative: str,
              horizontal: bool = True, stacked: bool = False) -> Chart:
    """Bars of one or more named series over ``labels``."""
    height = max(1.4, 0.38 * len(labels) + 0.8) if horizontal else 3.0
    figure, axes = pyplot.subplots(figsize=(6.0, height))
    positions = list(range(len(labels)))
    width = 0.8 / (1 if stacked else max(1, len(series)))
    bottoms = [0] * len(labels)
    for index, (name, values, colour) in enumerate(series):
        offsets = positions if stacked else [p - 0.4 + width * (index + 0.5) for p in positions]
        if horizontal:
            bars = axes.barh(offsets, values, height=width, left=bottoms if stacked else None, label=name, color=colour)
        else:
            bars = axes.bar(offsets, values, width=width, bottom=bottoms if stacked else None, label=name, color=colour)
        axes.bar_label(bars, labels=[str(v) if v else "" for v in values], label_type="center" if stacked else "edge",
                       padding=2, color="white" if stacked else "black", fontsize=9)
        if stacked:
            bottoms = [b + v for b, v in zip(bottoms, values)]
    if horizontal:
        axes.set_yticks(positions, labels)
        axes.invert_yaxis()
        axes.xaxis.get_major_locator().set_params(integer=True)
    else:
        axes.set_xticks(positions, labels)
        axes.yaxis.get_major_locator().set_params(integer=True)
    if len(series) > 1:
        axes.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12 if horizontal else -0.15),
                    ncol=len(series))
    return _svg(figure, alternative)
