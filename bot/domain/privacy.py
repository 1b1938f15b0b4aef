"""Privacy: /forgetme erasure under a tombstone, and finding a person's strings in stored messages.

What /forgetme leaves: approved hours (in the totals, under a random tombstone), the counts
of activities, acknowledgements and report-backs (under the same tombstone). What goes: the
people and users rows, roles, flows, drafts, undecided hours, the person's private messages and
every stored message (text, caption, document) that names them or links to their account.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import json
import re
import secrets
import zipfile
from collections.abc import Iterable
from typing import Any

from bot.domain import cache
from bot.domain.access import Access
from bot.domain.clock import Clock
from bot.domain.errors import Refusal
from bot.domain.models import Actor, Org
from bot.domain.roster import match_key
from storage import activities as activity_repo
from storage import activity_series as series_repo
from storage import announcements as announcement_repo
from storage import attendance as attendance_repo
from storage import cadres as cadres_repo
from storage import campaigns as campaign_repo
from storage import hours as hour_repo
from storage import minors as minor_repo
from storage import orgs as org_repo
from storage import outbox as outbox_repo
from storage import privacy as repo
from storage import requests as request_repo
from storage import roster as roster_repo
from storage import users as user_repo
from storage.db import Conn, Database

#: strings shorter than this are not searched for in other people's texts (too many false hits)
MIN_NEEDLE = 2


def new_tombstone_id() -> int:
    """A random negative 63-bit id, unrelated to any Telegram id."""
    return -1 - secrets.randbits(63)


def phone_forms(phone: str) -> list[str]:
    """The ways a stored phone number (e.g. +8613812345678) is likely to be written."""
    digits = re.sub(r"\D", "", phone)
    forms = {phone, digits, "+" + digits}
    if digits.startswith("86") and len(digits) == 13:
        national = digits[2:]
        forms |= {
            national,
            f"{national[:3]} {national[3:7]} {national[7:]}",
            f"{national[:3]}-{national[3:7]}-{national[7:]}",
        }
    return sorted(f for f in forms if len(f) >= 5)


class Needles:
    """A person's strings, and a test whether a stored text contains any of them."""

    def __init__(self, user_id: int, strings: Iterable[str | None], phones: Iterable[str]) -> None:
        words = {s.strip() for s in strings if s and len(s.strip()) >= MIN_NEEDLE}
        for phone in phones:
            words.update(phone_forms(phone))
        self.user_id = user_id
        #: what SQL replaces in free-text columns (longest first, so no part is left behind)
        self.words = sorted(words, key=lambda w: (-len(w), w))
        escaped = {html.escape(w, quote=q) for w in self.words for q in (False, True)}
        patterns = [re.escape(w) for w in sorted(escaped | set(self.words))]
        patterns.append(rf"(?<!\d){user_id}(?!\d)")
        for phone in phones:
            digits = re.sub(r"\D", "", phone)
            national = digits[2:] if digits.startswith("86") and len(digits) == 13 else digits
            patterns.append(r"(?<!\d)" + r"[\s\-]?".join(national) + r"(?!\d)")
        self._re = re.compile("|".join(patterns), re.IGNORECASE)

    @property
    def sql_words(self) -> list[str]:
        """The words SQL redacts, with the Telegram id as text."""
        return [*self.words, str(self.user_id)]

    def found_in(self, text: str) -> bool:
        return bool(self._re.search(text))

    def in_payload(self, payload: str, keys: str = "") -> bool:
        """True if a message's JSON payload, its attached document or its keys name the person."""
        if self.found_in(keys):
            return True
        try:
            data = json.loads(payload)
        except ValueError:
            return self.found_in(payload)
        return any(self.found_in(text) for text in _texts(data))


def _texts(value: Any) -> Iterable[str]:
    """Every string of a payload, with attached documents opened (a zip's members read)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "data_b64" and isinstance(item, str):
                yield from _document_texts(item)
            else:
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, str):
        yield value


def _document_texts(data_b64: str) -> Iterable[str]:
    try:
        raw = base64.b64decode(data_b64)
    except (binascii.Error, ValueError):
        yield data_b64
        return
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:  # .xlsx, .docx: XML inside a zip
            for name in archive.namelist():
                yield archive.read(name).decode("utf-8", "ignore")
    except (zipfile.BadZipFile, OSError, ValueError):
        yield raw.decode("utf-8", "ignore")


class Privacy:
    """/forgetme, and the retention of sent messages' payloads."""

    def __init__(
        self, db: Database, access: Access, clock: Clock, retention_days: int = 30
    ) -> None:
        self.db = db
        self.access = access
        self.clock = clock
        self.retention_days = retention_days

    # --- the audit log -----------------------------------------------------------------------
    async def log_export(
        self, user_id: int | None, chat_id: int | None, detail: str, org_code: str | None = None
    ) -> None:
        """Record an export of personal data: the chat's org, else the named or the
        person's own org."""
        r = self.db.reader
        org = await org_repo.of_chat(r, chat_id) if chat_id and chat_id < 0 else None
        if org is None and org_code:
            org = await org_repo.by_code(r, org_code)
        if org is None and user_id:
            person = await user_repo.get_person(r, user_id)
            org = await org_repo.get(r, person.org_id) if person else None
        async with self.db.transaction() as tx:
            await repo.log(
                tx,
                at=self.clock.time(),
                actor_id=user_id,
                action="export",
                detail=detail,
                org_id=org.id if org else None,
            )

    async def audit_entries(
        self, user_id: int, chat_id: int | None, limit: int
    ) -> tuple[list[Org], list[dict[str, Any]]]:
        """The newest entries of the orgs the person is staff of (this chat's org in a group)."""
        if chat_id is not None:
            org = await self.access.org_of_chat(chat_id)
            await self.access.require(user_id, org, "staff")
            scope = [org]
        else:
            scope = [o for o, role in await self.access.top_orgs(user_id) if role == "staff"]
            if not scope:
                raise Refusal("err_need_staff", org="—")
        rows = await repo.entries(self.db.reader, [o.path for o in scope], limit)
        return scope, rows

    # --- /mydata -----------------------------------------------------------------------------
    async def mydata(self, user_id: int) -> bytes:
        """Everything stored about the person as JSON (the request itself is logged)."""
        async with self.db.transaction() as tx:
            records = await repo.records_of(tx, user_id)
            records.update(await minor_repo.records_of(tx, user_id))
            records.update(await cadres_repo.records_of(tx, user_id))
            person = records["person"][0] if records["person"] else None
            await repo.log(
                tx,
                at=self.clock.time(),
                actor_id=user_id,
                action="mydata",
                detail="json",
                org_id=person["org_id"] if person else None,
                target_id=user_id,
            )
        for flow in records["flow"]:
            flow["state"] = json.loads(flow["state"])
        body = {"telegram_id": user_id, "exported_at": self.clock.time(), **records}
        return json.dumps(body, ensure_ascii=False, indent=2, default=str).encode("utf-8")

    async def expire(self) -> int:
        """Drop payloads of messages sent more than `retention_days` ago; returns how many."""
        before = self.clock.time() - self.retention_days * 86400
        async with self.db.transaction() as tx:
            count = await outbox_repo.expire(tx, before)
            count += await announcement_repo.expire_digest(tx, before)
        await self.db.checkpoint()
        return count

    async def forget(self, actor: Actor) -> bool:
        """Erase one person in one transaction, then checkpoint the WAL; False if nothing was
        stored about them but their id."""
        uid = actor.user_id
        async with self.db.transaction() as tx:
            person = await user_repo.get_person(tx, uid)
            user = await user_repo.get_user(tx, uid)
            flow = await user_repo.get_flow(tx, uid)
            draft = flow.state if flow else {}
            phones = [str(p) for p in (person.phone if person else None, draft.get("phone")) if p]
            needles = Needles(
                uid,
                [
                    person.real_name if person else None,
                    user.first_name if user else None,
                    user.username if user else None,
                    actor.first_name,
                    actor.username,
                    str(draft.get("real_name") or ""),
                    *(f"@{n}" for n in (actor.username, user.username if user else None) if n),
                ],
                phones,
            )
            # a roster re-imported after they registered: the pre-registration goes too
            await roster_repo.delete(tx, [match_key(p) for p in phones])
            tomb = await self._tombstone(tx)
            await hour_repo.repoint_user(tx, uid, tomb, needles.sql_words)
            await activity_repo.repoint_user(tx, uid, tomb)
            await attendance_repo.repoint_user(tx, uid, tomb)
            await series_repo.repoint_user(tx, uid, tomb)
            await campaign_repo.repoint_user(tx, uid, tomb, needles.sql_words)
            await announcement_repo.repoint_user(tx, uid, tomb, needles.sql_words)
            await repo.repoint_user(tx, uid, tomb)
            await minor_repo.repoint_user(tx, uid, tomb)
            await request_repo.redact(tx, needles.sql_words)  # their own texts went in a hook
            await self._scrub_messages(tx, needles)
            await user_repo.erase_user(tx, uid, tomb)
            cache.user_after_commit(self.db, uid)  # nothing about them stays in memory
        await self.db.checkpoint()
        return person is not None

    async def _tombstone(self, tx: Conn) -> int:
        while True:
            tomb = new_tombstone_id()
            if await user_repo.add_tombstone(tx, tomb):
                return tomb

    async def _scrub_messages(self, tx: Conn, needles: Needles) -> None:
        """The person's private messages go; any other message naming them loses its payload."""
        await outbox_repo.delete_private(tx, needles.user_id)
        hits = [
            i
            for i, payload, keys in await outbox_repo.payloads(tx)
            if needles.in_payload(payload, keys)
        ]
        await outbox_repo.scrub(tx, hits)
        digest = [
            i
            for i, payload, keys in await announcement_repo.digest_payloads(tx)
            if needles.in_payload(payload, keys)
        ]
        await announcement_repo.delete_digest_items(tx, digest)
