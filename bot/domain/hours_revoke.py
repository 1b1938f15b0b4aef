"""Taking back a wrongly approved hour entry, and showing an entry's photo to its approvers.

Approved entries are never edited or deleted: the one change the database allows them is
approved -> revoked, once, with who, when and why (migration 0025's trigger). A revoked entry
leaves every total (the `hour_totals` trigger subtracts it; every sum reads 'approved' only)
and stays listed as revoked. Secretaries and staff revoke entries of their subtree
(`/hours revoke <id> <reason>`); the organiser's attendance undo revokes what /close credited.
The volunteer is told privately through the outbox, in the transaction that revokes.

A mixin of `Hours` (hours.py): it uses the service's database, access, outbox and `lang_of`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from bot.domain import validate
from bot.domain.cache import after_commit
from bot.domain.clock import fmt_day, local
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_hours import HourEntry
from bot.domain.service import ServiceBase
from bot.texts import Term, t
from storage import hours as repo
from storage import orgs as org_repo
from storage.db import Conn

#: the longest reason kept (the column's CHECK holds it a second time)
MAX_REASON = 500


def clean_reason(text: str | None) -> str:
    """A revocation's reason: one to 500 characters as typed, nothing invisible; refused
    with one line otherwise."""
    value = " ".join(validate.clean_text(text, max_len=MAX_REASON, field="revoke_reason").split())
    if not value:
        raise Refusal("err_empty", field=Term("field_revoke_reason"))
    return value


class RevokeSteps(ServiceBase):
    """Revocation and photo evidence (mixed into `Hours`)."""

    lang_of: Callable[[int], Awaitable[str]]  # set by Hours.__init__

    async def _entry_for_approver(self, user_id: int, entry_id: int) -> HourEntry:
        """The entry, if the person is secretary or staff of its org (or above)."""
        entry = await repo.get(self.db.reader, entry_id)
        if entry is None:
            raise Refusal("err_revoke_unknown", id=entry_id)
        org = await org_repo.get(self.db.reader, entry.org_id)
        assert org is not None
        await self.access.require(user_id, org, "secretary")
        return entry

    async def revoke(self, user_id: int, entry_id: int, reason: str | None) -> HourEntry:
        """Take back an approved entry of the person's subtree, with a reason; the volunteer is
        told privately. Anything but an approved entry is refused and nothing changes."""
        cleaned = clean_reason(reason)
        entry = await self._entry_for_approver(user_id, entry_id)
        if entry.status != "approved":
            raise Refusal(
                "err_revoke_not_approved", id=entry_id, status=Term(f"hours_status_{entry.status}")
            )
        async with self.db.transaction() as tx:
            if not await self.revoke_in(tx, entry_id, by=user_id, reason=cleaned):
                raise Refusal("err_revoke_not_approved", id=entry_id, status="—")
            revoked = await repo.get(tx, entry_id)
        assert revoked is not None
        return revoked

    async def revoke_in(self, tx: Conn, entry_id: int, *, by: int, reason: str) -> bool:
        """approved -> revoked inside the caller's transaction, the volunteer told; False (and
        nothing done) when the entry was no longer approved."""
        if not await repo.revoke(tx, entry_id, by=by, now=self.clock.time(), reason=reason):
            return False
        after_commit(self.db, "hours")
        entry = await repo.get(tx, entry_id)
        assert entry is not None
        lang = await self.lang_of(entry.user_id)
        today = local(self.clock.time(), self.settings.tz).date()
        await self.outbox.add(
            tx,
            entry.user_id,
            t(
                lang,
                "hours_told_revoked",
                id=entry.id,
                date=fmt_day(date.fromisoformat(entry.served_on), lang, today),
                hours=f"{entry.quarters / 4:g}",
                description=entry.description[:200],
                reason=reason,
            ),
            user_id=entry.user_id,
            ref=f"hours:{entry.id}",
            dedupe_key=f"hours:revoked:{entry.id}",
        )
        return True

    async def evidence_photo(self, user_id: int, entry_id: int, shown_in: Org | None) -> HourEntry:
        """An entry whose photo the person (its author, or an approver of its org) may see,
        pressed on a listing of `shown_in`'s group (None: the person's own private chat)."""
        entry = await repo.get(self.db.reader, entry_id)
        if entry is None or not entry.photo_file_id:
            raise Refusal("err_evidence_none")
        org = await org_repo.get(self.db.reader, entry.org_id)
        assert org is not None
        if shown_in is not None and not org.path.startswith(shown_in.path):
            raise Refusal("err_button_elsewhere")
        if entry.user_id != user_id:
            await self.access.require(user_id, org, "secretary")
        return entry
