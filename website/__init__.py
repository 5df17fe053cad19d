"""Static website of the Coalition's private-sector engagements (no Prefect, no database)."""

from website.render import KIND_TITLES, SiteContext, SiteReport, SkippedItem, SubmissionWindowInfo, publish
from website.view import KINDS, PartnerProfile, PublishedItem, sanitize

__all__ = [
    "KIND_TITLES", "KINDS", "PartnerProfile", "PublishedItem", "SiteContext", "SiteReport", "SkippedItem",
    "SubmissionWindowInfo", "publish", "sanitize",
]
