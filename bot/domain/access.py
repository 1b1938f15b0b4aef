"""Who may do what: roles held per org reach down the subtree; superusers are staff everywhere."""

from __future__ import annotations

from bot.domain.errors import Refusal
from bot.domain.models import Org
from storage import orgs as org_repo
from storage import users as user_repo
from storage.db import Database

RANK = {None: 0, "member": 0, "secretary": 1, "staff": 2}


class Access:
    """Resolves a person's effective role at an org."""

    def __init__(self, db: Database, superusers: list[int]) -> None:
        self.db = db
        self.superusers = set(superusers)

    def is_superuser(self, user_id: int) -> bool:
        return user_id in self.superusers

    async def role_at(self, user_id: int, org: Org) -> str | None:
        """'staff', 'secretary' or None, counting roles held at any ancestor."""
        if user_id in self.superusers:
            return "staff"
        above = set(org_repo.ancestor_ids(org))
        best: str | None = None
        for grant in await user_repo.roles_of(self.db.reader, user_id):
            if grant.org_id in above and RANK[grant.role] > RANK[best]:
                best = grant.role
        return best

    async def require(self, user_id: int, org: Org, role: str) -> str:
        """Refuse unless the person holds at least `role` at `org`."""
        have = await self.role_at(user_id, org)
        if RANK[have] < RANK[role]:
            raise Refusal("err_need_" + role, org=org.name)
        assert have is not None
        return have

    async def org_of_chat(self, chat_id: int) -> Org:
        """The org this chat is bound to; refuses in a chat that is not bound."""
        org = await org_repo.of_chat(self.db.reader, chat_id)
        if org is None:
            raise Refusal("err_chat_not_bound")
        return org

    async def top_orgs(self, user_id: int) -> list[tuple[Org, str]]:
        """The highest orgs where the person holds a role (for /pending, /stats in private)."""
        if user_id in self.superusers:
            root = await org_repo.root(self.db.reader)
            return [(root, "staff")] if root else []
        grants = await user_repo.roles_of(self.db.reader, user_id)
        found = await org_repo.many(self.db.reader, [g.org_id for g in grants])
        role_by_id = {g.org_id: g.role for g in grants}
        result: list[tuple[Org, str]] = []
        for org in sorted(found, key=lambda o: o.depth):
            if not any(o.id in org_repo.ancestor_ids(org) and o.id != org.id for o, _ in result):
                result.append((org, role_by_id[org.id]))
        return result
