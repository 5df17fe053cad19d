"""What a test needs from the machine, and what happens when it is missing.

`make test` installs all of it (scripts/test-prerequisites.sh), so a missing tool fails the test with
the command that installs it. Only ``ENGAGE_ALLOW_SKIPS=1`` outside CI lets such a test skip instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ALLOW_SKIPS = os.environ.get("ENGAGE_ALLOW_SKIPS") == "1"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(present: object, missing: str, install: str) -> None:
    """Fail (or, with ENGAGE_ALLOW_SKIPS=1 outside CI, skip) when ``present`` is false, naming the fix."""
    if present:
        return
    message = f"{missing}; `make test` sets it up, or run: {install}"
    if ALLOW_SKIPS and not IN_CI:
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def require_chromium() -> None:
    """Chromium at /usr/bin/chromium (Playwright drives it; no browser download)."""
    require(CHROMIUM.exists(), f"Chromium is not installed at {CHROMIUM}", "sudo apt-get install chromium")


def require_poppler() -> None:
    """pdfinfo, pdftotext and pdftoppm, which read the PDFs the tests make."""
    require(all(shutil.which(tool) for tool in ("pdfinfo", "pdftotext", "pdftoppm")), "poppler-utils is not installed",
            "sudo apt-get install poppler-utils")
