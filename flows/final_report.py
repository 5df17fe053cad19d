"""Produce the final report in every language (HTML and PDF) into the site, then republish the site to link it.

Named ``final_report`` (not ``report``): a worker loads this file as a script, with ``flows/`` first on
its path, where a module ``report`` would hide the ``report`` package it imports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.runtime import current_runtime
from report import publish_reports, texts_folder
from states.publication import portal_url, publish_site


@task(name="write-report", cache_policy=NO_CACHE)
def write_reports(now: datetime | None = None, year: int | None = None) -> dict[str, Any]:
    runtime = current_runtime(now)
    today = runtime.clock.now().date()
    written = publish_reports(runtime.db, runtime.settings.site_dir, year=year, today=today,
                              texts=texts_folder(runtime.settings.data_dir))
    publish_site(runtime.db, runtime.settings.site_dir, portal=portal_url(runtime.settings), today=today,
                 site_url=runtime.settings.site_url)
    return {"year": written[0].year, "files": [str(report.path.resolve()) for report in written]}


@flow(name="final-report", log_prints=False)
async def report_flow(now: datetime | None = None, year: int | None = None) -> dict[str, Any]:
    """Write the final report (en/es/fr, HTML and PDF) into the site's ``report/`` folder and link it."""
    result = write_reports(now, year)
    get_run_logger().info("final report %s: %s file(s)", result["year"], len(result["files"]))
    await create_markdown_artifact(
        key="final-report",
        markdown=f"**Final report {result['year']}**" + "".join(f"\n- `{path}`" for path in result["files"]),
    )
    return result
