"""Minors: a person under 14 gives nothing personal until a guardian's consent is recorded.

The guardian agrees from their own account through a single-use link the minor forwards
(`/start guard_<token>`), or a secretary records a paper consent with /consent in the org's
group. Only the token's SHA-256 is stored; the minor's name is never asked before consent.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from bot.domain import cache as flows
from bot.domain.access import Access
from bot.domain.clock import Clock
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_minors import ConsentMethod, GuardianAsk, GuardianRequest
from bot.domain.outbox import Outbox
from bot.domain.people import REGISTER, People, Registration
from bot.texts import t
from storage import minors as repo
from storage import orgs as org_repo
from storage import users as user_repo
from storage.db import Conn, Database

#: `/start guard_<token>`
GUARD_LINK = "guard"
#: how long a guardian link works
LINK_DAYS = 7
#: every guardian button (the handler is registered on it)
GUARD_DATA = re.compile(r"^guard:")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,43}$")
_LINK = re.compile(r"(?:start=)?(?:guard_)?([A-Za-z0-9_-]{16,43})$")


def new_token() -> str:
    """A random single-use token (22 URL-safe characters)."""
    return secrets.token_urlsafe(16)


def hash_token(token: str) -> str:
    """What is stored of a token."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def guard_data(token: str) -> str:
    """The guardian's "I agree" button: it carries the token, checked again when pressed."""
    return f"guard:{token}"


def parse_guard_data(data: str | None) -> str:
    """The token of a guardian button; a malformed one is refused."""
    token = (data or "").removeprefix("guard:")
    if not (data or "").startswith("guard:") or not _TOKEN.match(token):
        raise Refusal("err_guard_invalid")
    return token


def token_from_text(text: str) -> str:
    """A token as a secretary may paste it: bare, `guard_<token>` or the whole link."""
    match = _LINK.search((text or "").strip())
    if match is None:
        raise Refusal("err_guard_invalid")
    return match.group(1)


class Minors:
    """Guardian links, the guardian's agreement, and paper consents recorded by secretaries."""

    def __init__(
        self, db: Database, access: Access, clock: Clock, outbox: Outbox, people: People
    ) -> None:
        self.db = db
        self.access = access
        self.clock = clock
        self.outbox = outbox
        self.people = people

    async def new_link_token(self, user_id: int) -> str:
        """A fresh guardian token for a minor waiting at the guardian step."""
        state = await self.people.registration(user_id)
        if state is None or not state.minor or state.step != "guardian" or state.org_id is None:
            raise Refusal("err_wrong_step")
        token = new_token()
        now = self.clock.time()
        async with self.db.transaction() as tx:
            await repo.insert_request(
                tx,
                token_hash=hash_token(token),
                user_id=user_id,
                org_id=state.org_id,
                now=now,
                expires_at=now + LINK_DAYS * 86400,
            )
        return token

    async def ask(self, token: str, guardian_id: int) -> GuardianAsk:
        """Who asks, for a guardian who opened the link; refused if the link does not work."""
        request = await self._check(self.db.reader, token, guardian_id)
        org = await org_repo.get(self.db.reader, request.org_id)
        return GuardianAsk(
            request_id=request.id, minor_id=request.user_id, org_name=org.name if org else "?"
        )

    async def agree(self, token: str, guardian_id: int) -> int:
        """The guardian agrees from their own account; returns the minor's id."""
        async with self.db.transaction() as tx:
            request = await self._check(tx, token, guardian_id)
            await self._record(tx, request, "telegram", guardian_id=guardian_id)
        return request.user_id

    async def record_paper(
        self,
        chat_id: int,
        recorder_id: int,
        *,
        token: str | None = None,
        minor_id: int | None = None,
    ) -> int:
        """A secretary (or staff above) records a paper consent in the org's group; returns
        the minor's id."""
        org = await self.access.org_of_chat(chat_id)
        await self.access.require(recorder_id, org, "secretary")
        async with self.db.transaction() as tx:
            if token is not None:
                request = await self._check(tx, token, recorder_id)
            else:
                assert minor_id is not None
                found = await repo.open_request_of(tx, minor_id, self.clock.time())
                if found is None:
                    raise Refusal("err_guard_no_request")
                request = found
            target = await org_repo.get(tx, request.org_id)
            if target is None or not _within(target, org):
                raise Refusal("err_need_secretary", org=target.name if target else request.org_id)
            await self._record(tx, request, "paper", recorded_by=recorder_id)
        return request.user_id

    async def _check(self, conn: Conn, token: str, user_id: int) -> GuardianRequest:
        if not _TOKEN.match(token or ""):
            raise Refusal("err_guard_invalid")
        request = await repo.request_by_hash(conn, hash_token(token))
        if request is None:
            raise Refusal("err_guard_invalid")
        if request.user_id == user_id:
            raise Refusal("err_guard_self")
        if request.used_at is not None:
            raise Refusal("err_guard_used")
        if request.expires_at <= self.clock.time():
            raise Refusal("err_guard_expired")
        return request

    async def _record(
        self,
        tx: Conn,
        request: GuardianRequest,
        method: ConsentMethod,
        *,
        guardian_id: int | None = None,
        recorded_by: int | None = None,
    ) -> None:
        """Consent row, every open link of the minor closed, the flow moved on to the name
        step, and the minor told privately (through the outbox) — one transaction."""
        now = self.clock.time()
        minor = request.user_id
        await repo.close_requests(tx, minor, now)
        await repo.add_consent(
            tx,
            minor_id=minor,
            org_id=request.org_id,
            method=method,
            guardian_id=guardian_id,
            recorded_by=recorded_by,
            request_id=request.id,
            now=now,
        )
        flow = await user_repo.get_flow(tx, minor)
        if flow is not None and flow.name == REGISTER:
            state = Registration.model_validate(flow.state)
            if state.minor and state.step == "guardian":
                state.step = "name"
                await flows.set_flow(self.db, tx, minor, REGISTER, state.model_dump(), now)
        lang = await self.people.lang(minor)
        await self.outbox.add(
            tx, minor, t(lang, "guard_minor_go_on"), dedupe_key=f"guard:{request.id}"
        )


def _within(org: Org, top: Org) -> bool:
    """True if `org` is `top` or below it."""
    return org.id == top.id or (bool(top.path) and org.path.startswith(top.path))
