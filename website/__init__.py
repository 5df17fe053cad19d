"""Static website of the Coalition's private-sector engagements (no Prefect, no database)."""

from website.render import (
    KIND_TITLES,
    KINDS,
    PartnerProfile,
    PublishedItem,
    SiteContext,
    SiteReport,
    SkippedItem,
    SubmissionWindowInfo,
    publish,
    sanitize,
)

__all__ = [
    "KIND_TITLES", "KINDS", "PartnerProfile", "PublishedItem", "SiteContext", "SiteReport", "SkippedItem",
    "SubmissionWindowInfo", "publish", "sanitize",
]
