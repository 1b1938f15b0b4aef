"""Report-back (述职) campaigns: deadlines owed by the orgs below, the reminder ladder,
submissions and the board.

What is scheduled for a campaign is a set of rows in the Reminders engine (kind 'campaign'),
written in the transaction that creates the campaign:

- ``before:<seconds>`` for each rung of ``settings.campaign_reminders`` still ahead;
- ``due`` at the due time: the board goes to the campaign org's chat;
- ``overdue:<k>`` for k = 1..``overdue_days``, every ``overdue_interval`` after the due time;
- ``escalate`` after the last overdue reminder: the campaign org's chat is told who is missing.

Each reminder runs inside the transaction that claims it and only queues outbox messages with
that connection, so it is sent once, across restarts. Reminders go privately to the secretaries
of orgs that have not submitted; one who never started the bot or blocked it is mentioned in a
group chat by Telegram display name instead; an org without a secretary is reported once to the
staff above.
"""

from __future__ import annotations

import logging
import unicodedata

from bot.domain import cache as flows
from bot.domain.access import RANK
from bot.domain.campaigns_board import Board, BoardRow, Created, Option, Received, State
from bot.domain.campaigns_core import BOARD_LINES, DAY, CampaignsBase, LangOf
from bot.domain.campaigns_input import (
    MAX_AHEAD,
    SUBMIT_DATA,
    SUBMIT_LINK,
    TITLE_MAX,
    NewCampaign,
    fmt_size,
    fmt_span,
    ladder,
    parse_due,
    parse_id,
    parse_new,
    parse_submit_data,
    submit_data,
    submit_payload,
)
from bot.domain.campaigns_parts import PARTS, SUBMIT_FLOW, store_part
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_campaigns import Campaign, Content
from bot.domain.models_reminders import Reminder
from bot.domain.service import Core
from bot.domain.when import Reading
from bot.texts import Raw, mention, t
from storage import campaigns as repo
from storage import chats as chat_repo
from storage import orgs as org_repo
from storage import review as review_repo
from storage import users as user_repo
from storage.db import Conn

__all__ = [
    "BOARD_LINES",
    "DAY",
    "KIND",
    "MAX_AHEAD",
    "REPORT_MAX",
    "SUBMIT_DATA",
    "SUBMIT_FLOW",
    "SUBMIT_LINK",
    "TITLE_MAX",
    "Board",
    "BoardRow",
    "Campaigns",
    "Created",
    "LangOf",
    "NewCampaign",
    "Option",
    "Received",
    "State",
    "fmt_size",
    "fmt_span",
    "ladder",
    "parse_due",
    "parse_id",
    "parse_new",
    "parse_submit_data",
    "submit_data",
    "submit_payload",
]

log = logging.getLogger(__name__)

KIND = "campaign"
REPORT_MAX = 4000


# --- the service -----------------------------------------------------------------------------


class Campaigns(CampaignsBase):
    """Services behind /deadline, /submit, the `sub_` deep link and the campaign reminders."""

    def __init__(self, core: Core, lang_of: LangOf, overdue_interval: float = DAY) -> None:
        super().__init__(core, lang_of, overdue_interval)
        self.reminders.on(KIND, self.on_reminder)

    # --- /deadline new | cancel --------------------------------------------------------------
    async def create(
        self,
        user_id: int,
        chat_id: int,
        text: str | None,
        chosen: Reading | None = None,
        replied_to: int | None = None,
    ) -> Created:
        """A campaign owed by the orgs directly below this chat's org (or its whole subtree).

        A `| 评审 @a @b` option names the review panel (`replied_to`: the person whose message
        the command answers joins it too)."""
        org = await self.org_of_chat(chat_id)
        await self.access.require(user_id, org, "staff")
        now = self.clock.time()
        new = parse_new(text, self.tz, now, chosen)
        rungs = [d.total_seconds() for d in self.settings.campaign_reminders]
        steps = ladder(new.due_at, now, rungs, self.settings.overdue_days, self.overdue_interval)
        async with self.db.transaction() as tx:
            if new.scope == "all":
                owing = [o for o in await org_repo.subtree(tx, org) if o.id != org.id]
            else:
                owing = await org_repo.children(tx, org.id)
            if not owing:
                raise Refusal("err_deadline_no_orgs", org=org.name)
            campaign = await repo.insert(
                tx,
                **new.columns(),  # the typed fields are the columns
                org_id=org.id,
                created_by=user_id,
                now=now,
                owing=[o.id for o in owing],
            )
            panel: list[int] = []
            if new.panel_named:
                panel = await self._panel(tx, new.panel, replied_to)
                await review_repo.set_panel(tx, campaign.id, panel)
            for step, at in steps:
                await self.reminders.add(tx, KIND, campaign.id, step, at)
            staffed = {
                g.org_id for g in await user_repo.holders(tx, [o.id for o in owing], "secretary")
            }
        return Created(
            campaign=campaign,
            owing=len(owing),
            no_secretary=[o.name for o in owing if o.id not in staffed],
            reminders=[at for step, at in steps if step.startswith("before:")],
            panel=len(panel),
        )

    @staticmethod
    async def _panel(conn: Conn, names: list[str], replied_to: int | None) -> list[int]:
        """The review panel's user ids, from @usernames (registered people) and a reply."""
        found = [replied_to] if replied_to else []
        for name in names:
            user = await user_repo.by_username(conn, name)
            if user is None:
                raise Refusal("err_deadline_panel_unknown", name="@" + name)
            found.append(user.id)
        if not found:
            raise Refusal("err_deadline_panel", got="")
        return list(dict.fromkeys(found))

    async def cancel(self, user_id: int, chat_id: int, campaign_id: int) -> tuple[Campaign, int]:
        """Cancel an open campaign and every reminder still pending for it."""
        chat_org = await self.org_of_chat(chat_id)
        campaign, org = await self._visible(chat_org, campaign_id)
        await self.access.require(user_id, org, "staff")
        async with self.db.transaction() as tx:
            if not await repo.cancel(tx, campaign.id, user_id, self.clock.time()):
                raise Refusal("err_camp_cancelled", id=campaign.id, title=campaign.title)
            dropped = await self.reminders.cancel(tx, KIND, campaign.id)
        return campaign, dropped

    # --- /deadline status | list ---------------------------------------------------------------
    async def board(self, user_id: int, chat_id: int, campaign_id: int | None) -> Board:
        """Per org owing the campaign (within this chat's subtree): on time, late or missing."""
        chat_org = await self.org_of_chat(chat_id)
        await self.access.require(user_id, chat_org, "secretary")
        if campaign_id is None:
            found = await repo.visible_from(self.db.reader, chat_org.path, 1)
            if not found:
                raise Refusal("err_camp_none", org=chat_org.name)
            campaign_id = found[0].id
        campaign, _ = await self._visible(chat_org, campaign_id)
        return await self._board(self.db.reader, campaign, chat_org)

    async def recent(self, user_id: int, chat_id: int, limit: int = 15) -> list[Board]:
        """The newest campaigns visible from this chat, open ones first."""
        chat_org = await self.org_of_chat(chat_id)
        await self.access.require(user_id, chat_org, "secretary")
        found = await repo.visible_from(self.db.reader, chat_org.path, limit)
        return [await self._board(self.db.reader, c, chat_org) for c in found]

    # --- /submit -----------------------------------------------------------------------------
    async def options(self, user_id: int, campaign_id: int | None = None) -> list[Option]:
        """(campaign, org) pairs this person may submit for, open campaigns only."""
        r = self.db.reader
        if campaign_id is not None:
            campaign = await self._open(r, campaign_id)
        grants = await user_repo.roles_of(r, user_id)
        pairs = await repo.open_owed_by(r, [g.org_id for g in grants])
        if campaign_id is not None:
            pairs = [(c, o) for c, o in pairs if c.id == campaign_id]
            if not pairs:  # staff (or a superuser) above may submit on an org's behalf
                owing = await repo.owing(r, campaign_id)
                candidates = await org_repo.many(r, [o.org_id for o in owing])
                for org in sorted(candidates, key=lambda o: o.path):
                    if RANK[await self.access.role_at(user_id, org)] >= RANK["secretary"]:
                        pairs.append((campaign, org.id))
        if not pairs:
            if campaign_id is not None:
                camp = await repo.get(r, campaign_id)
                raise Refusal("err_sub_not_owed", id=campaign_id, title=camp.title if camp else "")
            raise Refusal("err_sub_nothing")
        orgs = {o.id: o for o in await org_repo.many(r, [o for _, o in pairs])}
        result = []
        for campaign, org_id in pairs:
            sub = await repo.submission(r, campaign.id, org_id)
            result.append(Option(campaign=campaign, org=orgs[org_id], submitted=sub is not None))
        return result

    async def begin(
        self, user_id: int, campaign_id: int, org_id: int, part: str | None = None
    ) -> Option:
        """The next text or document this person sends is the report for (campaign, org);
        for a two-part report, `part` (else the first part still missing, summary first)."""
        campaign, org = await self._check_submitter(user_id, campaign_id, org_id)
        parts_in = [p.part for p in await repo.parts(self.db.reader, campaign.id, org.id)]
        if campaign.parts == 2:
            part = part or next((p for p in PARTS if p not in parts_in), PARTS[0])
        else:
            part = None
        async with self.db.transaction() as tx:
            state: dict[str, object] = {"campaign_id": campaign.id, "org_id": org.id}
            if part:
                state["part"] = part
            await flows.set_flow(self.db, tx, user_id, SUBMIT_FLOW, state, self.clock.time())
        sub = await repo.submission(self.db.reader, campaign.id, org.id)
        return Option(
            campaign=campaign, org=org, submitted=sub is not None, part=part, parts_in=parts_in
        )

    @staticmethod
    async def _open(conn: Conn, campaign_id: int) -> Campaign:
        """The campaign, if it is still open; an unknown or cancelled one is refused."""
        campaign = await repo.get(conn, campaign_id)
        if campaign is None:
            raise Refusal("err_camp_unknown", id=campaign_id)
        if not campaign.is_open:
            raise Refusal("err_camp_cancelled", id=campaign.id, title=campaign.title)
        return campaign

    async def _check_submitter(
        self, user_id: int, campaign_id: int, org_id: int
    ) -> tuple[Campaign, Org]:
        r = self.db.reader
        campaign = await self._open(r, campaign_id)
        org = await org_repo.get(r, org_id)
        if org is None or not await repo.is_owed_by(r, campaign.id, org.id):
            raise Refusal("err_sub_not_owed", id=campaign.id, title=campaign.title)
        if RANK[await self.access.role_at(user_id, org)] < RANK["secretary"]:
            raise Refusal("err_need_secretary", org=org.name)
        return campaign, org

    async def submit(
        self,
        user_id: int,
        *,
        text: str | None = None,
        file_id: str | None = None,
        file_name: str | None = None,
        file_size: int | None = None,
        target: tuple[int, int] | None = None,
    ) -> Received:
        """Store the report (text or document) for the flow's (or `target`'s) campaign and org.

        Before the due time a resubmission replaces the report; after it, it is marked late.
        """
        part = None
        if target is None:
            flow = await user_repo.get_flow(self.db.reader, user_id)
            if flow is None or flow.name != SUBMIT_FLOW:
                raise Refusal("err_sub_no_flow")
            target = int(flow.state["campaign_id"]), int(flow.state["org_id"])
            part = flow.state.get("part")
        if file_id is None:
            text = unicodedata.normalize("NFC", text or "").strip()
            if not text:
                raise Refusal("err_sub_kind")
            if len(text) > REPORT_MAX:
                raise Refusal("err_sub_too_long", max=REPORT_MAX, got=len(text))
        else:
            text = (text or "").strip()[:1024] or None
            file_name = (file_name or "").strip()[:200] or None
        campaign, org = await self._check_submitter(user_id, *target)
        async with self.db.transaction() as tx:
            now = self.clock.time()
            await self._open(tx, campaign.id)  # again: a cancel may have come in between
            content = Content(
                user_id=user_id,
                text=text,
                file_id=file_id,
                file_name=file_name,
                file_size=file_size,
                now=now,
                late=now > campaign.due_at,
            )
            if campaign.parts == 2:
                got, stored = await store_part(self.db, tx, campaign, org, part, content)
                await self.review.forward(tx, campaign, org, stored)
                return got
            before = await repo.submission(tx, campaign.id, org.id)
            saved = await repo.save_submission(tx, campaign.id, org.id, content)
            await self.review.forward(tx, campaign, org, saved)
            flow = await user_repo.get_flow(tx, user_id)
            if flow is not None and flow.name == SUBMIT_FLOW:
                await flows.clear_flow(self.db, tx, user_id)
        return Received(campaign=campaign, org=org, submission=saved, replaced=before is not None)

    # --- reminders (run inside the claiming transaction) --------------------------------------
    async def on_reminder(self, conn: Conn, reminder: Reminder) -> None:
        """Queue what one step of a campaign's ladder says; nothing else is written."""
        campaign = await repo.get(conn, reminder.ref_id)
        if campaign is None or not campaign.is_open:
            return
        step = reminder.step
        board = await self._board(conn, campaign)
        await self._tell_no_secretary(conn, campaign, board)
        if step.startswith(("before:", "overdue:")):
            await self._remind(conn, campaign, board, step)
        elif step == "due":
            await self._post(
                conn,
                campaign,
                board,
                "due",
                self.board_text(board, self.settings.language, limit=200),
            )
        elif step == "escalate":
            if board.missing:
                lang = self.settings.language
                lines = [self.board_line(r, lang) for r in board.missing[:200]]
                text = t(
                    lang,
                    "camp_escalate",
                    **self.about(campaign, lang),
                    n=len(board.missing),
                    total=len(board.rows),
                    lines=Raw("\n".join(lines)),
                )
                await self._post(conn, campaign, board, "escalate", text)
        else:
            log.warning("campaign %s: unknown reminder step %r", campaign.id, step)

    async def _post(
        self, conn: Conn, campaign: Campaign, board: Board, step: str, text: str
    ) -> None:
        chat = await chat_repo.of_org(conn, campaign.org_id)
        if chat is None or not chat.active:
            log.info(
                "campaign %s: %s not posted, %s has no active chat",
                campaign.id,
                step,
                board.org.code,
            )
            return
        # the board and the escalation are the campaign's point: never folded into a digest
        await self.outbox.add(
            conn,
            chat.id,
            text,
            ref=f"campaign:{campaign.id}",
            dedupe_key=f"campaign:{campaign.id}:{step}",
            urgent=True,
        )

    async def _remind(self, conn: Conn, campaign: Campaign, board: Board, step: str) -> None:
        missing = {r.org_id: r for r in board.missing}
        if not missing:
            return
        now = self.clock.time()
        overdue = step.startswith("overdue:")
        link = self.link(campaign.id)
        group_lang = self.settings.language
        for grant in await user_repo.holders(conn, list(missing), "secretary"):
            row = missing[grant.org_id]
            user = await user_repo.get_user(conn, grant.user_id)
            lang = await self.lang_of(grant.user_id)
            span = fmt_span(now - campaign.due_at if overdue else campaign.due_at - now, lang)
            key = "camp_remind_overdue" if overdue else "camp_remind_before"
            text = t(
                lang,
                key,
                **self.about(campaign, lang),
                org=row.name,
                span=span,
                link=link,
            )
            group_text = t(
                group_lang,
                "camp_remind_group",
                **self.about(campaign, group_lang),
                org=row.name,
                link=link,
            )
            dedupe = f"campaign:{campaign.id}:{step}:{row.org_id}:{grant.user_id}"
            if user is not None and user.started and user.reachable:
                markup = None
                if self.bot_username:
                    markup = {
                        "inline_keyboard": [[{"text": t(lang, "camp_btn_submit"), "url": link}]]
                    }
                await self.outbox.add(
                    conn,
                    grant.user_id,
                    text,
                    user_id=grant.user_id,
                    reply_markup=markup,
                    ref=f"campaign:{campaign.id}",
                    dedupe_key=dedupe,
                    extra={"fallback": True, "fallback_text": group_text},
                )
                continue
            # known not to be reachable privately: mention them in a group chat straight away
            chat = await chat_repo.of_org(conn, row.org_id)
            chat_id = chat.id if chat is not None and chat.active else None
            if chat_id is None:
                target = await user_repo.fallback_target(conn, grant.user_id)
                chat_id = target[0] if target else None
            if chat_id is None:
                log.info(
                    "campaign %s: secretary %s of %s unreachable and no chat",
                    campaign.id,
                    grant.user_id,
                    row.code,
                )
                continue
            who = mention(grant.user_id, user.first_name if user else None)
            await self.outbox.add(
                conn,
                chat_id,
                f"{who} {group_text}",
                urgent=True,
                ref=f"campaign:{campaign.id}",
                dedupe_key=dedupe,
            )

    async def _tell_no_secretary(self, conn: Conn, campaign: Campaign, board: Board) -> None:
        """Orgs still missing that have no secretary: the staff above are told, once per org."""
        owing = {o.org_id: o for o in await repo.owing(conn, campaign.id)}
        new = [
            r
            for r in board.missing
            if not r.has_secretary and owing[r.org_id].no_secretary_told_at is None
        ]
        if not new:
            return
        by_staff: dict[int, list[str]] = {}
        for row in new:
            ancestors = org_repo.ancestor_ids(owing[row.org_id])
            staff = {g.user_id for g in await user_repo.holders(conn, ancestors, "staff")}
            for uid in staff or {campaign.created_by}:
                by_staff.setdefault(uid, []).append(row.name)
        for uid, names in by_staff.items():
            lang = await self.lang_of(uid)
            text = t(
                lang,
                "camp_no_secretary",
                **self.about(campaign, lang),
                orgs="、".join(names) if lang == "zh" else ", ".join(names),
            )
            await self.outbox.add(
                conn,
                uid,
                text,
                user_id=uid,
                ref=f"campaign:{campaign.id}",
                dedupe_key=f"campaign:{campaign.id}:nosec:{uid}:{min(r.org_id for r in new)}",
                extra={"fallback": True, "fallback_text": text},
            )
        await repo.mark_no_secretary_told(
            conn, campaign.id, [r.org_id for r in new], self.clock.time()
        )
