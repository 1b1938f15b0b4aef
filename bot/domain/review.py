"""Reading and reviewing report-backs (述职评议).

Reviewers of a campaign: the panel named when it was created (`| 评审 @a @b`), else the staff
of the campaign's org and its creator (written down as the panel when the review opens, so the
people who score are fixed). They get each report privately as it arrives (text as a message,
documents re-sent by file_id), and may fetch it again with the board's "查看材料" button, as may
the person who submitted it; nobody else.

`/review open` (the creator, after the due time) sends every reviewer each report with a
scoring card (the campaign's rubric, 加评语); one decision per reviewer and report, replaced
until `/review close`, which fixes the results (bot/domain/review_calc.py), tells each
secretary their own result and the comments, each reviewer the summary, and sends the creator
the workbook for filing upward. Everything is queued in the outbox in the transaction that
decides it; the reminder to reviewers who have not scored everything is a fire-once reminder
(kind 'review'). Scores and comments only ever go to private chats.
"""

from __future__ import annotations

import base64
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from bot.domain import cache as flows
from bot.domain import review_calc as calc
from bot.domain import review_export
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_campaigns import Campaign, Part, Submission
from bot.domain.models_reminders import Reminder
from bot.domain.service import Core, ServiceBase
from bot.domain.xlsx import XLSX
from bot.texts import t, tn
from storage import campaigns as camp_repo
from storage import orgs as org_repo
from storage import review as repo
from storage import users as user_repo
from storage.db import Conn

KIND = "review"
COMMENT_FLOW = "review_comment"
CAPTION_ROOM = 700  # of a document's caption (1,024), what the report's own caption may use

LangOf = Callable[[int], Awaitable[str]]
Item = Submission | Part
#: a keyboard as rows of (label, callback data)
Rows = list[list[tuple[str, str]]]


class Card(BaseModel):
    """A reviewer's scoring card for one report: the text and its buttons."""

    text: str
    rows: Rows

    def markup(self) -> dict[str, Any]:
        return {
            "inline_keyboard": [
                [{"text": label, "callback_data": data} for label, data in row] for row in self.rows
            ]
        }


class Progress(BaseModel):
    campaign: Campaign
    status: str
    reports: int
    #: (display name, reports graded) per reviewer
    reviewers: list[tuple[str, int]]


class Closed(BaseModel):
    campaign: Campaign
    reports: int
    scored: int  # reports with a result
    reviewers: int


class Review(ServiceBase):
    """Services behind the board's 查看材料, /review and /export review."""

    def __init__(self, core: Core, lang_of: LangOf) -> None:
        super().__init__(core)
        self.lang_of = lang_of
        self.reminders.on(KIND, self.on_reminder)

    # --- helpers -----------------------------------------------------------------------------
    @staticmethod
    async def campaign(conn: Conn, campaign_id: int) -> Campaign:
        campaign = await camp_repo.get(conn, campaign_id)
        if campaign is None:
            raise Refusal("err_camp_unknown", id=campaign_id)
        return campaign

    async def reviewers(self, conn: Conn, campaign: Campaign) -> list[int]:
        """The panel, else the staff of the campaign's org and its creator."""
        named = await repo.panel(conn, campaign.id)
        if named:
            return named
        staff = {g.user_id for g in await user_repo.holders(conn, [campaign.org_id], "staff")}
        return sorted(staff | {campaign.created_by})

    @staticmethod
    async def materials(conn: Conn, campaign: Campaign, org_id: int) -> list[Item]:
        """What an org submitted: its report, or the parts of a two-part one received so far."""
        if campaign.parts == 2:
            return list(await camp_repo.parts(conn, campaign.id, org_id))
        sub = await camp_repo.submission(conn, campaign.id, org_id)
        return [sub] if sub is not None else []

    async def reported(self, conn: Conn, campaign: Campaign) -> list[tuple[Org, list[Item]]]:
        """Every owing org that submitted something, tree order, with what it submitted."""
        found = []
        for owing in await camp_repo.owing(conn, campaign.id):
            items = await self.materials(conn, campaign, owing.org_id)
            if items:
                org = await org_repo.get(conn, owing.org_id)
                assert org is not None
                found.append((org, items))
        return found

    async def _send(
        self, conn: Conn, to: int, campaign: Campaign, text: str, once: str, **options: Any
    ) -> None:
        """Queue `text` to `to` privately about `campaign`'s review; once per `once`."""
        await self.outbox.add(
            conn,
            to,
            text,
            ref=f"review:{campaign.id}",
            dedupe_key=f"review:{campaign.id}:{once}",
            **options,
        )

    async def _queue_items(
        self, conn: Conn, to: int, campaign: Campaign, org: Org, items: list[Item], key: str
    ) -> None:
        """Queue `items` to `to`'s private chat: a text as a message, a document by file_id."""
        lang = await self.lang_of(to)
        for item in items:
            part = item.part if isinstance(item, Part) else None
            head = t(
                lang,
                "rv_material_head",
                id=campaign.id,
                title=campaign.title,
                org=org.name,
                part=t(lang, f"rv_part_{part}") if part else t(lang, "rv_part_report"),
                at=self.fmt(item.submitted_at, lang),
                late=t(lang, "rv_late") if item.late else "",
            )
            once = f"{key}:{to}:{part or 'r'}:{item.versions}"
            if item.file_id:
                caption = head
                if item.text:
                    caption = t(
                        lang, "rv_material_caption", head=head, text=item.text[:CAPTION_ROOM]
                    )
                await self._send(
                    conn,
                    to,
                    campaign,
                    caption,
                    once,
                    kind="document",
                    extra={"file_id": item.file_id},
                )
            else:
                text = t(lang, "rv_material_text", head=head, text=item.text or "")
                await self._send(conn, to, campaign, text, once)

    # --- reading: as reports arrive, and the board's 查看材料 ------------------------------------
    async def forward(self, conn: Conn, campaign: Campaign, org: Org, item: Item) -> None:
        """A report (or part) just stored: each reviewer but its sender gets it privately."""
        for uid in await self.reviewers(conn, campaign):
            if uid != item.user_id:
                await self._queue_items(conn, uid, campaign, org, [item], f"arrived:{org.id}")

    async def fetch(self, user_id: int, campaign_id: int, org_id: int, key: str) -> int:
        """查看材料: the org's report to the presser privately, if they are one of the
        campaign's reviewers or submitted it. `key` names the press (a double tap sends once)."""
        async with self.db.transaction() as tx:
            campaign = await self.campaign(tx, campaign_id)
            items = await self.materials(tx, campaign, org_id)
            senders = {i.user_id for i in items}
            if user_id not in senders and user_id not in await self.reviewers(tx, campaign):
                raise Refusal("err_rv_not_reader")
            if not items:
                raise Refusal("err_rv_nothing")
            user = await user_repo.get_user(tx, user_id)
            if user is None or not user.started:
                raise Refusal("err_rv_start_private")
            org = await org_repo.get(tx, org_id)
            assert org is not None
            await self._queue_items(tx, user_id, campaign, org, items, f"fetch:{org.id}:{key}")
        return len(items)

    # --- /review open | status | close --------------------------------------------------------
    async def _own(self, conn: Conn, user_id: int, campaign_id: int) -> tuple[Campaign, Org]:
        """The campaign, if this person created it and is still staff where it was created."""
        campaign = await self.campaign(conn, campaign_id)
        org = await org_repo.get(conn, campaign.org_id)
        assert org is not None
        if campaign.created_by != user_id:
            raise Refusal("err_rv_not_creator", id=campaign.id, title=campaign.title)
        await self.access.require(user_id, org, "staff")
        return campaign, org

    async def open(self, user_id: int, campaign_id: int) -> tuple[Campaign, int, int, int]:
        """Open the review: every reviewer gets every report with a scoring card.

        Returns (campaign, reviewers, reports, reviewers who never opened a private chat with
        the bot and so cannot get their cards)."""
        now = self.clock.time()
        async with self.db.transaction() as tx:
            campaign, _ = await self._own(tx, user_id, campaign_id)
            if not campaign.is_open:
                raise Refusal("err_camp_cancelled", id=campaign.id, title=campaign.title)
            if now < campaign.due_at:
                lang = await self.lang_of(user_id)
                raise Refusal("err_rv_not_due", id=campaign.id, due=self.fmt(campaign.due_at, lang))
            existing = await repo.get(tx, campaign.id)
            if existing is not None:
                key = "err_rv_closed" if existing.status == "closed" else "err_rv_already_open"
                raise Refusal(key, id=campaign.id, title=campaign.title)
            reported = await self.reported(tx, campaign)
            if not reported:
                raise Refusal("err_rv_no_reports", id=campaign.id, title=campaign.title)
            reviewers = await self.reviewers(tx, campaign)
            await repo.set_panel(tx, campaign.id, reviewers)  # fixed from now on
            await repo.open_review(tx, campaign.id, user_id, now)
            unreachable = 0
            for uid in reviewers:
                user = await user_repo.get_user(tx, uid)
                unreachable += user is None or not user.started or not user.reachable
                lang = await self.lang_of(uid)
                intro = t(
                    lang,
                    "rv_opened_intro",
                    id=campaign.id,
                    title=campaign.title,
                    n=len(reported),
                    grades=" / ".join(calc.grades(campaign, lang)),
                )
                await self._send(tx, uid, campaign, intro, f"intro:{uid}")
                for org, items in reported:
                    await self._queue_items(tx, uid, campaign, org, items, f"open:{org.id}")
                    card = self.card(campaign, org, None, lang)
                    await self._send(
                        tx,
                        uid,
                        campaign,
                        card.text,
                        f"card:{org.id}:{uid}",
                        reply_markup=card.markup(),
                    )
            await self.reminders.add(
                tx, KIND, campaign.id, "remind", now + self.settings.review_reminder.total_seconds()
            )
        return campaign, len(reviewers), len(reported), unreachable

    def card(self, campaign: Campaign, org: Org, score: repo.Score | None, lang: str) -> Card:
        """The scoring card of one report: the current choice marked, 加评语 below."""
        names = calc.grades(campaign, lang)
        grade = score.grade if score else None
        comment = score.comment if score else None
        text = t(
            lang,
            "rv_card",
            id=campaign.id,
            title=campaign.title,
            org=org.name,
            grade=calc.grade_name(campaign, grade, lang),
        )
        if comment:
            text += "\n" + t(lang, "rv_card_comment", comment=comment)
        buttons = [
            (("✅ " if i == grade else "") + name, calc.grade_data(campaign.id, org.id, i))
            for i, name in enumerate(names)
        ]
        rows: Rows = [buttons[:3], buttons[3:]] if len(buttons) > 4 else [buttons]
        rows.append([(t(lang, "rv_btn_comment"), calc.comment_data(campaign.id, org.id))])
        return Card(text=text, rows=rows)

    async def _scoring(self, conn: Conn, user_id: int, campaign_id: int, org_id: int) -> Org:
        """The org's report, if this person is a reviewer of a review still open."""
        campaign = await self.campaign(conn, campaign_id)
        review = await repo.get(conn, campaign.id)
        if review is None:
            raise Refusal("err_stale_button")
        if review.status == "closed":
            raise Refusal("err_rv_closed", id=campaign.id, title=campaign.title)
        if user_id not in await repo.panel(conn, campaign.id):
            raise Refusal("err_rv_not_reviewer")
        if not await self.materials(conn, campaign, org_id):
            raise Refusal("err_stale_button")
        org = await org_repo.get(conn, org_id)
        assert org is not None
        return org

    async def grade(
        self, user_id: int, campaign_id: int, org_id: int, grade: int, lang: str
    ) -> tuple[Card, bool]:
        """Record (or replace) this reviewer's grade; (the card now, whether it changed)."""
        async with self.db.transaction() as tx:
            org = await self._scoring(tx, user_id, campaign_id, org_id)
            campaign = await self.campaign(tx, campaign_id)
            if not 0 <= grade < len(calc.grades(campaign, lang)):
                raise Refusal("err_stale_button")
            before = await repo.score(tx, campaign.id, org.id, user_id)
            changed = before is None or before.grade != grade
            if changed:
                await repo.set_grade(tx, campaign.id, org.id, user_id, grade, self.clock.time())
            score = await repo.score(tx, campaign.id, org.id, user_id)
        return self.card(campaign, org, score, lang), changed

    async def begin_comment(self, user_id: int, campaign_id: int, org_id: int) -> Org:
        """加评语: the next private text is this reviewer's comment on the org's report."""
        async with self.db.transaction() as tx:
            org = await self._scoring(tx, user_id, campaign_id, org_id)
            state = {"campaign_id": campaign_id, "org_id": org_id}
            await flows.set_flow(self.db, tx, user_id, COMMENT_FLOW, state, self.clock.time())
        return org

    async def save_comment(self, user_id: int, text: str | None, lang: str) -> Card:
        comment = unicodedata.normalize("NFC", text or "").strip()
        if not comment:
            raise Refusal("err_rv_comment_kind")
        if len(comment) > calc.COMMENT_MAX:
            raise Refusal("err_rv_comment_long", max=calc.COMMENT_MAX, got=len(comment))
        async with self.db.transaction() as tx:
            flow = await user_repo.get_flow(tx, user_id)
            if flow is None or flow.name != COMMENT_FLOW:
                raise Refusal("err_stale_button")
            campaign_id, org_id = int(flow.state["campaign_id"]), int(flow.state["org_id"])
            await flows.clear_flow(self.db, tx, user_id)
        async with self.db.transaction() as tx:  # the flow is over even if the review closed
            org = await self._scoring(tx, user_id, campaign_id, org_id)
            campaign = await self.campaign(tx, campaign_id)
            await repo.set_comment(tx, campaign.id, org.id, user_id, comment, self.clock.time())
            score = await repo.score(tx, campaign.id, org.id, user_id)
        return self.card(campaign, org, score, lang)

    async def progress(self, user_id: int, campaign_id: int) -> Progress:
        """/review status: how many reports each reviewer has graded (no grades shown)."""
        r = self.db.reader
        campaign, _ = await self._own(r, user_id, campaign_id)
        review = await repo.get(r, campaign.id)
        if review is None:
            raise Refusal("err_rv_not_open", id=campaign.id, title=campaign.title)
        reports = len(await self.reported(r, campaign))
        rows = []
        for uid in await repo.panel(r, campaign.id):
            user = await user_repo.get_user(r, uid)
            rows.append(
                (
                    (user.first_name if user else "") or "?",
                    await repo.graded_count(r, campaign.id, uid),
                )
            )
        return Progress(campaign=campaign, status=review.status, reports=reports, reviewers=rows)

    async def close(self, user_id: int, campaign_id: int, lang: str) -> Closed:
        """Fix the results; tell secretaries and reviewers privately; the workbook to the
        creator. All queued in the one transaction that closes the review."""
        now = self.clock.time()
        async with self.db.transaction() as tx:
            campaign, owner = await self._own(tx, user_id, campaign_id)
            review = await repo.get(tx, campaign.id)
            if review is None:
                raise Refusal("err_rv_not_open", id=campaign.id, title=campaign.title)
            if not await repo.close_review(tx, campaign.id, now):
                raise Refusal("err_rv_closed", id=campaign.id, title=campaign.title)
            await self.reminders.cancel(tx, KIND, campaign.id)
            reported = await self.reported(tx, campaign)
            n_grades = len(calc.grades(campaign, lang))
            results = []
            for org, _ in reported:
                scores = await repo.scores(tx, campaign.id, org_id=org.id)
                given = [s.grade for s in scores if s.grade is not None]
                o = calc.outcome(given, n_grades, campaign.method)
                results.append(
                    repo.Result(
                        campaign_id=campaign.id,
                        org_id=org.id,
                        grade=o.grade,
                        points=o.points,
                        scored=o.scored,
                        tie=o.tie,
                    )
                )
            await repo.save_results(tx, results)
            by_org = {r.org_id: r for r in results}
            for org, items in reported:
                await self._tell_secretaries(tx, campaign, org, items, by_org[org.id])
            panel = await repo.panel(tx, campaign.id)
            for uid in panel:
                rlang = await self.lang_of(uid)
                lines = [
                    self.result_line(campaign, org.name, by_org[org.id], rlang)
                    for org, _ in reported
                ]
                summary = (
                    t(rlang, "rv_summary", id=campaign.id, title=campaign.title)
                    + "\n"
                    + "\n".join(lines)
                )
                await self._send(tx, uid, campaign, summary, f"summary:{uid}")
            await self._queue_workbook(tx, user_id, campaign, owner, lang)
        return Closed(
            campaign=campaign,
            reports=len(reported),
            scored=sum(1 for r in results if r.grade is not None),
            reviewers=len(panel),
        )

    def result_line(self, campaign: Campaign, org: str, result: repo.Result, lang: str) -> str:
        if result.grade is None:
            return t(lang, "rv_result_none", org=org)
        return tn(
            lang,
            "rv_result_tie" if result.tie else "rv_result",
            result.scored,
            org=org,
            grade=calc.grade_name(campaign, result.grade, lang),
            points=f"{result.points or 0:.2f}",
        )

    async def _tell_secretaries(
        self, conn: Conn, campaign: Campaign, org: Org, items: list[Item], result: repo.Result
    ) -> None:
        """The org's own result and the comments (without their authors), privately."""
        holders = {g.user_id for g in await user_repo.holders(conn, [org.id], "secretary")}
        comments = [
            s.comment for s in await repo.scores(conn, campaign.id, org_id=org.id) if s.comment
        ]
        for uid in sorted(holders | {i.user_id for i in items}):
            lang = await self.lang_of(uid)
            text = t(lang, "rv_own_result", id=campaign.id, title=campaign.title)
            text += "\n" + self.result_line(campaign, org.name, result, lang)
            if comments:
                text += "\n" + t(lang, "rv_comments_head")
                text += "".join("\n" + t(lang, "rv_comment_line", comment=c) for c in comments)
            await self._send(conn, uid, campaign, text, f"result:{org.id}:{uid}")

    async def _queue_workbook(
        self, conn: Conn, to: int, campaign: Campaign, owner: Org, lang: str
    ) -> None:
        data = await self.workbook_of(conn, campaign, owner, lang)
        await self.outbox.add(
            conn,
            to,
            t(lang, "rv_export_caption", id=campaign.id, title=campaign.title),
            kind="document",
            ref="export",
            dedupe_key=f"review:{campaign.id}:workbook:{to}:{self.clock.time():.3f}",
            extra={
                "data_b64": base64.b64encode(data).decode("ascii"),
                "filename": f"review-{campaign.id}.xlsx",
                "mime_type": XLSX,
            },
        )

    async def workbook_of(self, conn: Conn, campaign: Campaign, owner: Org, lang: str) -> bytes:
        reported = await self.reported(conn, campaign)
        return review_export.workbook(
            campaign,
            owner,
            [org for org, _ in reported],
            await repo.scores(conn, campaign.id),
            await repo.results(conn, campaign.id),
            lang,
            self.settings.tz,
        )

    async def export(self, user_id: int, campaign_id: int, lang: str) -> Campaign:
        """/export review <id>: the workbook again, privately to the creator."""
        async with self.db.transaction() as tx:
            campaign, owner = await self._own(tx, user_id, campaign_id)
            if await repo.get(tx, campaign.id) is None:
                raise Refusal("err_rv_not_open", id=campaign.id, title=campaign.title)
            await self._queue_workbook(tx, user_id, campaign, owner, lang)
        return campaign

    # --- the reminder (runs inside the claiming transaction) ----------------------------------
    async def on_reminder(self, conn: Conn, reminder: Reminder) -> None:
        """Reviewers who have not graded every report are reminded, once."""
        campaign = await camp_repo.get(conn, reminder.ref_id)
        review = await repo.get(conn, reminder.ref_id)
        if campaign is None or review is None or review.status != "open":
            return
        reports = len(await self.reported(conn, campaign))
        for uid in await repo.panel(conn, campaign.id):
            done = await repo.graded_count(conn, campaign.id, uid)
            if done >= reports:
                continue
            lang = await self.lang_of(uid)
            text = t(
                lang,
                "rv_remind",
                id=campaign.id,
                title=campaign.title,
                left=reports - done,
                total=reports,
            )
            await self._send(conn, uid, campaign, text, f"remind:{reminder.step}:{uid}")
