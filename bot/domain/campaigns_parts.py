"""Two-part reports (a work summary, 工作总结, and a next-year plan, 工作计划): each part is
stored on its own; once both are in, the org's submission row is written (its time is that of
the later part, late if either part was late), so the board, the reminders and the figures
count an org as having submitted only when both parts arrived."""

from __future__ import annotations

from bot.domain import cache as flows
from bot.domain.campaigns_board import Received
from bot.domain.models import Org
from bot.domain.models_campaigns import Campaign, Content, Part
from storage import campaigns as repo
from storage import users as user_repo
from storage.db import Conn, Database

#: the parts, in the order the submission flow asks for them
PARTS = ("summary", "plan")
SUBMIT_FLOW = "campaign_submit"


async def store_part(
    db: Database, tx: Conn, campaign: Campaign, org: Org, part: str | None, c: Content
) -> tuple[Received, Part]:
    """Store `part` (None: the first part still missing) inside `tx`; the flow moves on to
    the part still missing, or ends."""
    have = {p.part for p in await repo.parts(tx, campaign.id, org.id)}
    if part not in PARTS:
        part = next((p for p in PARTS if p not in have), PARTS[0])
    saved = await repo.save_part(tx, campaign.id, org.id, part, c)
    parts = await repo.parts(tx, campaign.id, org.id)
    missing = next((p for p in PARTS if p not in {x.part for x in parts}), None)
    if missing is None:  # the row is that of the later part, late if either part was late
        whole = c.model_copy(update={"late": any(p.late for p in parts)})
        await repo.save_submission(tx, campaign.id, org.id, whole)
    flow = await user_repo.get_flow(tx, c.user_id)
    if flow is not None and flow.name == SUBMIT_FLOW:
        if missing is None:
            await flows.clear_flow(db, tx, c.user_id)
        else:  # takes the parts in order: the next message is the part still missing
            state = {"campaign_id": campaign.id, "org_id": org.id, "part": missing}
            await flows.set_flow(db, tx, c.user_id, SUBMIT_FLOW, state, c.now)
    received = Received(
        campaign=campaign,
        org=org,
        submission=saved,
        replaced=saved.versions > 1,
        part=part,
        missing=missing,
    )
    return received, saved
