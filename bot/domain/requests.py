"""Requests upward (请示报告): a branch's secretary asks the org above for a decision.

A request is addressed to an ORG: the nearest ancestor of the requester's org that has staff
when it is made (the root, answered by the superusers, when no ancestor has any). Whoever is
staff of that org when a button is pressed or the reminder fires acts on it, so a handover of
the post moves the open requests with it. The staff get the request privately through the
outbox with 同意 / 不同意 / 回复; the first decision wins (a later press learns who decided and
when, and nothing changes). 回复 asks the staff member for a text that is relayed to the
requester; a reply does NOT decide the request: it stays open (and is still reminded) until
someone presses 同意 or 不同意. One reminder (kind 'request') goes to the staff of the target
org `settings.request_reminder` after the request if it is still open. Nothing here ever goes
to a group chat.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from bot.domain import cache as flows
from bot.domain import xlsx
from bot.domain.campaigns_input import fmt_span
from bot.domain.clock import local
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_reminders import Reminder
from bot.domain.models_requests import Request
from bot.domain.service import Core, ServiceBase
from bot.domain.validate import excerpt, odd_char
from bot.texts import Raw, mention, t
from storage import orgs as org_repo
from storage import outbox as outbox_repo
from storage import requests as repo
from storage import users as user_repo
from storage.db import Conn

KIND = "request"
COMPOSE_FLOW = "request_text"
REPLY_FLOW = "request_reply"
#: characters of a request's text (a longer one is refused: send it as a document)
TEXT_MAX = 2000
#: characters of a document's caption kept with it (Telegram's own caption limit)
CAPTION_MAX = 1024
REPLY_MAX = 2000
LIST_MAX = 30
#: C0 controls but tab and line feed, DEL, lone surrogates: dropped from typed text
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")

LangOf = Callable[[int], Awaitable[str]]

# --- callback data: the request buttons -------------------------------------------------------

Verb = Literal["ok", "no", "re"]
_DATA = re.compile(r"^req:(ok|no|re):([0-9]{1,12})\Z")
REQUEST_DATA = re.compile(r"^req:")


class RequestButton(NamedTuple):
    verb: Verb
    id: int


def request_data(verb: Verb, request_id: int) -> str:
    """The callback data of a request button (同意 ok, 不同意 no, 回复 re)."""
    return f"req:{verb}:{request_id}"


def parse_request_data(data: str | None) -> RequestButton:
    """The button behind callback data; a stale or forged one is refused."""
    match = _DATA.match(data or "")
    if match is None:
        raise Refusal("err_stale_button")
    return RequestButton(match.group(1), int(match.group(2)))  # type: ignore[arg-type]


def clean(text: str | None, limit: int, *, key: str = "err_req_too_long") -> str:
    """NFC, line breaks as LF, controls dropped, ends stripped; empty or over `limit` refused."""
    value = unicodedata.normalize("NFC", text or "").replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROLS.sub("", value).strip()
    if not value:
        raise Refusal("err_req_empty")
    odd = odd_char(value)
    if odd is not None:
        raise Refusal("err_req_odd_char", code=f"U+{ord(odd):04X}")
    if len(value) > limit:
        raise Refusal(key, max=limit, got=len(value))
    return value


@dataclass(frozen=True)
class Decided:
    """What a press of 同意 / 不同意 did: `won` False if someone had decided first."""

    request: Request
    won: bool


@dataclass(frozen=True)
class Listing:
    """/requests: open requests addressed to the person's staff orgs; their own requests."""

    open_to_me: list[Request]
    mine: list[Request]
    staff: bool
    secretary: bool


class Requests(ServiceBase):
    """Services behind /request, /requests, the decision buttons, replies and the reminder."""

    def __init__(self, core: Core, lang_of: LangOf) -> None:
        super().__init__(core)
        self.lang_of = lang_of
        self.reminders.on(KIND, self.on_reminder)

    # --- helpers -------------------------------------------------------------------------------
    def local_time(self, ts: float) -> datetime:
        """A time as a wall-clock datetime of the deployment's zone (for spreadsheets)."""
        return local(ts, self.settings.tz).replace(tzinfo=None)

    async def source_org(self, user_id: int) -> Org:
        """The org the person is secretary of (the shallowest, if several)."""
        held = [org for org, role in await self.access.roles(user_id) if role == "secretary"]
        if not held:
            raise Refusal("err_req_not_secretary")
        return min(held, key=lambda o: (o.depth, o.path))

    async def _target(self, conn: Conn, org: Org) -> Org:
        """The nearest ancestor with staff; the root (the superusers') when none has any."""
        above = org_repo.ancestor_ids(org)[:-1]
        if not above:
            raise Refusal("err_req_no_above", org=org.name)
        staffed = {g.org_id for g in await user_repo.holders(conn, above, "staff")}
        for org_id in reversed(above):
            if org_id in staffed:
                found = await org_repo.get(conn, org_id)
                assert found is not None
                return found
        if not self.access.superusers:
            raise Refusal("err_req_no_above", org=org.name)
        root = await org_repo.get(conn, above[0])
        assert root is not None
        return root

    async def recipients(self, conn: Conn, org_id: int) -> list[int]:
        """Who is staff of the org now (the superusers when nobody holds the role there)."""
        held = [g.user_id for g in await user_repo.holders(conn, [org_id], "staff")]
        return sorted(set(held)) or sorted(self.access.superusers)

    async def _require_staff(self, user_id: int, request: Request) -> None:
        org = await org_repo.get(self.db.reader, request.to_org_id)
        assert org is not None
        if await self.access.role_at(user_id, org) != "staff":
            raise Refusal("err_req_not_staff", id=request.id, org=org.name)

    async def _get(self, conn: Conn, request_id: int) -> Request:
        found = await repo.get(conn, request_id)
        if found is None:
            raise Refusal("err_stale_button")
        return found

    def decided_refusal(self, request: Request, lang: str) -> Refusal:
        """The answer to a press on a request someone decided already."""
        return Refusal(
            "err_req_decided",
            id=request.id,
            who=request.decider_first or "?",
            when=self.fmt(request.decided_at or 0, lang),
            status=Raw(t(lang, "req_status_" + request.status)),
        )

    # --- making a request ------------------------------------------------------------------------
    async def begin(self, user_id: int) -> tuple[Org, Org]:
        """`/request` alone: the next text or document this person sends is the request."""
        org = await self.source_org(user_id)
        target = await self._target(self.db.reader, org)
        async with self.db.transaction() as tx:
            await flows.set_flow(self.db, tx, user_id, COMPOSE_FLOW, {}, self.clock.time())
        return org, target

    async def make(
        self,
        user_id: int,
        *,
        text: str | None = None,
        file_id: str | None = None,
        file_name: str | None = None,
    ) -> Request:
        """Store the request and queue it, privately, to every staff member of the org above."""
        org = await self.source_org(user_id)
        if file_id is None:
            text = clean(text, TEXT_MAX)
        else:
            text = unicodedata.normalize("NFC", _CONTROLS.sub("", text or "")).strip()
            if len(text) > CAPTION_MAX:
                raise Refusal("err_req_too_long", max=CAPTION_MAX, got=len(text))
            file_name = _CONTROLS.sub("", file_name or "").strip()[:200] or None
        after = self.settings.request_reminder.total_seconds()
        async with self.db.transaction() as tx:
            target = await self._target(tx, org)
            now = self.clock.time()
            request = await repo.insert(
                tx,
                from_org_id=org.id,
                to_org_id=target.id,
                requester_id=user_id,
                text=text,
                file_id=file_id,
                file_name=file_name,
                now=now,
            )
            for uid in await self.recipients(tx, target.id):
                await self._send_card(tx, uid, request, "new")
            if after > 0:
                await self.reminders.add(tx, KIND, request.id, "remind", now + after)
            flow = await user_repo.get_flow(tx, user_id)
            if flow is not None and flow.name == COMPOSE_FLOW:
                await flows.clear_flow(self.db, tx, user_id)
        return request

    async def composing(self, user_id: int) -> bool:
        flow = await user_repo.get_flow(self.db.reader, user_id)
        return flow is not None and flow.name == COMPOSE_FLOW

    # --- the card the staff get ------------------------------------------------------------------
    def card_text(self, request: Request, lang: str, why: str = "new") -> str:
        who = (
            mention(request.requester_id, request.requester_first)
            if request.requester_id
            else t(lang, "req_someone")
        )
        body = request.text or ""
        if request.file_id:
            body = t(lang, "req_card_file", name=request.file_name or "?") + (
                "\n" + t(lang, "req_card_caption", text=body) if body else ""
            )
        else:
            body = t(lang, "req_card_text", text=body)
        return t(
            lang,
            "req_card_remind" if why == "remind" else "req_card",
            id=request.id,
            org=request.from_name,
            to=request.to_name,
            who=who,
            at=self.fmt(request.created_at, lang),
            age=fmt_span(self.clock.time() - request.created_at, lang),
            body=Raw(body),
        )

    @staticmethod
    def card_markup(request: Request, lang: str) -> dict[str, Any]:
        row = [
            {"text": t(lang, "req_btn_" + verb), "callback_data": request_data(verb, request.id)}
            for verb in ("ok", "no", "re")
        ]
        return {"inline_keyboard": [row]}

    async def _send_card(self, conn: Conn, uid: int, request: Request, why: str) -> None:
        lang = await self.lang_of(uid)
        ref = f"request:{request.id}"
        step = f"request:{request.id}:{why}:{uid}"
        if request.file_id:  # the document itself, re-sent by its file_id, then the card
            await self.outbox.add(
                conn,
                uid,
                t(lang, "req_doc_caption", id=request.id, org=request.from_name),
                user_id=uid,
                kind="document",
                ref=ref,
                dedupe_key=f"{step}:doc",
                extra={"file_id": request.file_id},
            )
        await self.outbox.add(
            conn,
            uid,
            self.card_text(request, lang, why),
            user_id=uid,
            reply_markup=self.card_markup(request, lang),
            ref=ref,
            dedupe_key=step,
        )

    # --- deciding ----------------------------------------------------------------------------
    async def decide(self, user_id: int, request_id: int, approve: bool) -> Decided:
        """同意 or 不同意 by staff of the target org; the first decision wins."""
        request = await self._get(self.db.reader, request_id)
        await self._require_staff(user_id, request)
        status = "approved" if approve else "rejected"
        async with self.db.transaction() as tx:
            won = await repo.decide(tx, request_id, status, user_id, self.clock.time())
            request = await self._get(tx, request_id)
            if won:
                await self.reminders.cancel(tx, KIND, request_id)
                await self._tell_requester(tx, request, "decided")
        return Decided(request=request, won=won)

    async def _tell_requester(
        self, conn: Conn, request: Request, what: str, reply: str = "", by: int | None = None
    ) -> None:
        uid = request.requester_id
        if uid is None:  # the requester used /forgetme
            return
        lang = await self.lang_of(uid)
        about = excerpt(request.text, 40) if request.text else (request.file_name or "")
        if what == "decided":
            text = t(
                lang,
                "req_told_" + request.status,
                id=request.id,
                about=about,
                to=request.to_name,
                who=mention(request.decided_by or 0, request.decider_first),
                at=self.fmt(request.decided_at or 0, lang),
            )
            key = f"request:{request.id}:decided"
        else:
            user = await user_repo.get_user(conn, by or 0)
            text = t(
                lang,
                "req_told_reply",
                id=request.id,
                about=about,
                to=request.to_name,
                who=mention(by or 0, user.first_name if user else None),
                reply=reply,
            )
            key = None
        await self.outbox.add(
            conn, uid, text, user_id=uid, ref=f"request:{request.id}", dedupe_key=key
        )

    # --- replying ----------------------------------------------------------------------------
    async def begin_reply(self, user_id: int, request_id: int, lang: str) -> Request:
        """回复: the staff member's next private text is relayed to the requester."""
        request = await self._get(self.db.reader, request_id)
        await self._require_staff(user_id, request)
        if not request.is_open:
            raise self.decided_refusal(request, lang)
        async with self.db.transaction() as tx:
            await flows.set_flow(
                self.db, tx, user_id, REPLY_FLOW, {"request_id": request_id}, self.clock.time()
            )
        return request

    async def replying_to(self, user_id: int) -> int | None:
        flow = await user_repo.get_flow(self.db.reader, user_id)
        if flow is None or flow.name != REPLY_FLOW:
            return None
        return int(flow.state["request_id"])

    async def reply(self, user_id: int, text: str | None) -> Request:
        """Relay the reply to the requester; the request stays open."""
        request_id = await self.replying_to(user_id)
        if request_id is None:
            raise Refusal("err_wrong_step")
        body = clean(text, REPLY_MAX)
        request = await self._get(self.db.reader, request_id)
        await self._require_staff(user_id, request)
        async with self.db.transaction() as tx:
            await repo.add_reply(tx, request_id, user_id, body, self.clock.time())
            await flows.clear_flow(self.db, tx, user_id)
            await self._tell_requester(tx, request, "reply", reply=body, by=user_id)
        return request

    # --- /requests -----------------------------------------------------------------------------
    async def listing(self, user_id: int) -> Listing:
        staff_orgs = [o for o, role in await self.access.top_orgs(user_id) if role == "staff"]
        secretary = any(role == "secretary" for _, role in await self.access.roles(user_id))
        r = self.db.reader
        open_to = await repo.open_to(r, [o.path for o in staff_orgs], LIST_MAX)
        mine = await repo.of_requester(r, user_id, LIST_MAX)
        if not staff_orgs and not secretary and not mine:
            raise Refusal("err_req_no_role")
        return Listing(open_to_me=open_to, mine=mine, staff=bool(staff_orgs), secretary=secretary)

    # --- the reminder (runs inside the claiming transaction) ---------------------------------
    async def on_reminder(self, conn: Conn, reminder: Reminder) -> None:
        request = await repo.get(conn, reminder.ref_id)
        if request is None or not request.is_open:
            return
        for uid in await self.recipients(conn, request.to_org_id):
            await self._send_card(conn, uid, request, "remind")

    # --- /export requests ----------------------------------------------------------------------
    async def export_scope(self, user_id: int, chat_id: int | None) -> list[Org]:
        """A group's org (staff there), or in private every top org the person is staff of."""
        if chat_id is not None:
            org = await self.access.org_of_chat(chat_id)
            await self.access.require(user_id, org, "staff")
            return [org]
        scope = [o for o, role in await self.access.top_orgs(user_id) if role == "staff"]
        if not scope:
            raise Refusal("err_need_staff", org="—")
        return scope

    async def workbook(self, org: Org, lang: str) -> bytes:
        """Every request from or to the subtree, with its decision and replies, as .xlsx."""
        rows = await repo.export_rows(self.db.reader, org.path)
        header = [t(lang, "req_col_" + c) for c in COLUMNS]
        today = xlsx.day_words(lang, local(self.clock.time(), self.settings.tz).date())
        title = t(lang, "req_export_title", org=org.name, day=today)
        book = xlsx.book(title)
        sheet = xlsx.Sheet(book, t(lang, "req_export_sheet"), title=title, header=header)
        for row in rows:
            sheet.add(
                [
                    row.id,
                    row.from_name,
                    row.to_name,
                    row.requester,
                    row.text,
                    row.file_name or "",
                    self.local_time(row.created_at),
                    t(lang, "req_status_" + row.status),
                    row.decider,
                    self.local_time(row.decided_at) if row.decided_at else None,
                    row.replies,
                ]
            )
        sheet.close()
        return xlsx.save(book)

    # --- /forgetme -----------------------------------------------------------------------------
    async def forget(self, user_id: int) -> None:
        """Erase the person's request texts and replies; the staff's copies of their requests
        lose their payloads (the decisions, orgs and times stay)."""
        async with self.db.transaction() as tx:
            ids: list[int] = []
            for request_id in await repo.ids_of(tx, user_id):
                ids += [i.id for i in await outbox_repo.by_ref(tx, f"request:{request_id}")]
            await outbox_repo.scrub(tx, ids)
            await repo.forget_user(tx, user_id)


#: the export's columns (text keys req_col_<name>), in order
COLUMNS = (
    "id",
    "from",
    "to",
    "requester",
    "text",
    "file",
    "created",
    "status",
    "decider",
    "decided",
    "replies",
)
