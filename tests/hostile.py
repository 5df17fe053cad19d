"""Hostile values for the input-policy tests: every character class, markup, injections, extremes."""

from __future__ import annotations

from hypothesis import strategies as st

HOSTILE_STRINGS = [
    "x [/] y", "[bold red]Evil[/bold red] Corp", "[link=https://evil.example]click[/link]",
    "Line\r\nBcc: all@evil.example", "a\rb", "a\nb", "a\x85b", "a\u2028b", "a\u2029b", "NUL\x00here",
    "\x1b[31mred\x1b[0m", "bell\x07", "del\x7f", "tab\there", "\u202eevil\u202c", "zero\u200bwidth", "\ufeffbom",
    "lone \ud800 surrogate", "\udcff", "Cafe\u0301", "\u0958", "\ufb01", "\U0001F469\u200d\U0001F4BB", "\u0645\u200c\u06cc",
    "=?utf-8?q?evil?=", "<script>alert(1)</script>", "{{ 7*7 }}", "%s%s%n", "' OR 1=1 --", "   ", "",
    "\u00a0", "\u3000", "W" * 20_001, "word " * 500, "é" * 301, "\U0010ffff", "\ufffe",
]

_FRAGMENTS = st.sampled_from([
    "\x00", "\r", "\n", "\r\n", "\t", "\x85", "\u2028", "\u2029", "\u200b", "\u200c", "\u200d", "\u202e", "\ufeff",
    "\ud800", "\udfff", "\x1b", "[", "]", "[/]", "e\u0301", "\u0958", " ", "\u00a0", "@", "<", "&", "=?", "?=",
])

hostile_text = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.lists(st.one_of(st.characters(exclude_categories=()), st.characters(categories=["Cs"]), _FRAGMENTS),
             max_size=40).map("".join),
    st.builds(lambda text, times: text * times, st.text(min_size=1, max_size=3), st.integers(50, 400)),
)
"""Text over all of Unicode (surrogates and controls included), known-hostile strings, and long runs."""

hostile_number = st.one_of(
    st.sampled_from([True, False, None, -1, 0, 2**31 - 1, 2**31, 2**63, 2**64, 10**30, 1.5, float("nan"), "3", [], {}]),
    st.integers(),
)
"""What arrives where a count or an id belongs: bools, huge and negative numbers, floats, strings."""
