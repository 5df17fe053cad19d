"""Publish the Coalition website from the database: exactly what is published now, idempotently."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.runtime import current_runtime
from states.publication import portal_url, publish_site


@task(name="render-site", cache_policy=NO_CACHE)
def render_site(now: datetime | None = None) -> dict[str, Any]:
    runtime = current_runtime(now)
    report = publish_site(runtime.db, runtime.settings.site_dir, portal=portal_url(runtime.settings),
                          today=runtime.clock.now().date(), site_url=runtime.settings.site_url)
    return {
        "site_dir": str(runtime.settings.site_dir.resolve()), "items": report.items,
        "written": report.pages_written, "unchanged": len(report.pages_unchanged), "removed": report.pages_removed,
        "skipped": [{"engagement_id": item.engagement_id, "reason": item.reason} for item in report.skipped],
    }


@flow(name="publish-website", log_prints=False)
async def publication_flow(now: datetime | None = None) -> dict[str, Any]:
    """Make the static site hold exactly the published engagements (withdrawn pages disappear).

    An engagement that cannot be rendered is left off, named in the log and the artifact; the rest is published.
    """
    result = render_site(now)
    logger = get_run_logger()
    logger.info(
        "site %s: %s item(s), %s file(s) written, %s removed, %s item(s) skipped",
        result["site_dir"], result["items"], len(result["written"]), len(result["removed"]), len(result["skipped"]),
    )
    for item in result["skipped"]:
        logger.warning("engagement %s left off the website: %s", item["engagement_id"], item["reason"])
    await create_markdown_artifact(key="website-publication", markdown=publication_markdown(result))
    return result


def publication_markdown(result: dict[str, Any]) -> str:
    """The run's artifact: what was published, each engagement left off and why, each page removed."""
    return (
        f"**Website** `{result['site_dir']}`: {result['items']} published item(s); "
        f"{len(result['written'])} file(s) written, {result['unchanged']} unchanged, "
        f"{len(result['removed'])} removed, {len(result['skipped'])} skipped"
        + "".join(f"\n- skipped engagement {item['engagement_id']} (could not be rendered): "
                  f"`{_code(item['reason'])}`" for item in result["skipped"])
        + "".join(f"\n- removed `{path}`" for path in result["removed"])
    )


def _code(text: str) -> str:
    """``text`` fit to sit between backticks on one Markdown line."""
    return " ".join(text.replace("`", "'").split())
