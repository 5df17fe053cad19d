"""Static website of the Coalition's private-sector engagements (no Prefect, no database)."""

from website.render import KIND_TITLES, KINDS, PublishedItem, SiteReport, publish, sanitize

__all__ = ["KIND_TITLES", "KINDS", "PublishedItem", "SiteReport", "publish", "sanitize"]
