"""The mailbox intake as a flow: file every message of the Secretariat's mailbox once, then deliver
the confirmation mails it queued."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.delivery import deliver_outbox
from flows.labels import job_run_name
from flows.runtime import current_runtime
from notifications.mailbox import read_mailbox


@flow(name="mail-intake", flow_run_name=job_run_name("mailbox"), log_prints=False)
def mail_intake_flow(dispatch: bool = True, limit: int | None = None) -> dict[str, Any]:
    """Read the configured IMAP folder once (see ``states.mail_intake``); idempotent."""
    logger = get_run_logger()
    runtime = current_runtime()
    if not runtime.settings.imap_host:  # the schedule ships with every deployment; without a mailbox it reads nothing
        logger.info("no mailbox configured (ENGAGE_IMAP_HOST): nothing to read")
        return {"counts": {}, "delivered": None}
    run = read_mailbox(runtime.db, runtime.settings, clock=runtime.clock, limit=limit)
    logger.info(run.summary())
    for item in run.filed:
        if item.outcome in {"refused", "staff"} and not item.replayed:
            logger.warning("%s: %s", item.outcome, item.reason)
    filed = run.counts().get("filed", 0)
    delivered = deliver_outbox() if dispatch and filed else None
    return {"counts": run.counts(), "delivered": delivered}
