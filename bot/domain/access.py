"""Who may do what: roles held per org reach down the subtree; superusers are staff everywhere.

Who a user is (their users and people rows, org and roles) and the org of a chat are read on
nearly every update: they come from the cache (bot/domain/cache.py), one query on a miss.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.cache import cache_of
from bot.domain.errors import Refusal
from bot.domain.loader import Loader
from bot.domain.models import Org, Person, User
from storage import identity as identity_repo
from storage import orgs as org_repo
from storage.db import Database

RANK = {None: 0, "member": 0, "secretary": 1, "staff": 2}


@dataclass(frozen=True)
class Identity:
    """A user as stored: Telegram identity, registration (None: not registered), its org and
    the roles held (with their orgs, by org id)."""

    user: User
    person: Person | None
    org: Org | None
    roles: tuple[tuple[Org, str], ...]


class Access:
    """Resolves a person's effective role at an org."""

    def __init__(self, db: Database, superusers: list[int]) -> None:
        self.db = db
        self.superusers = set(superusers)
        self.cache = cache_of(db)
        # misses of one loop turn in one query (a sign-up storm of people not seen lately)
        self._identities: Loader[int, Identity | None] = Loader(
            self._read_identities, None, "identity loader"
        )

    def is_superuser(self, user_id: int) -> bool:
        return user_id in self.superusers

    async def identity(self, user_id: int) -> Identity | None:
        """The user's rows (None: the bot has no users row for them), cached."""
        return await self.cache.load("identity", user_id, lambda: self._read_identity(user_id))

    async def _read_identity(self, user_id: int) -> Identity | None:
        return await self._identities.load(user_id)

    async def _read_identities(self, user_ids: list[int]) -> dict[int, Identity | None]:
        found = await identity_repo.identities(self.db.reader, user_ids)
        return {
            user_id: Identity(user=user, person=person, org=org, roles=tuple(roles))
            for user_id, (user, person, org, roles) in found.items()
        }

    async def roles(self, user_id: int) -> list[tuple[Org, str]]:
        """The roles the person holds, with their orgs (by org id)."""
        found = await self.identity(user_id)
        return list(found.roles) if found else []

    async def root(self) -> Org | None:
        """The root org (None before /setup), cached."""
        return await self.cache.load("root", 0, lambda: org_repo.root(self.db.reader))

    async def role_at(self, user_id: int, org: Org) -> str | None:
        """'staff', 'secretary' or None, counting roles held at any ancestor."""
        if user_id in self.superusers:
            return "staff"
        above = set(org_repo.ancestor_ids(org))
        best: str | None = None
        for held, role in await self.roles(user_id):
            if held.id in above and RANK[role] > RANK[best]:
                best = role
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
        org = await self.cache.load(
            "chat", chat_id, lambda: org_repo.of_chat(self.db.reader, chat_id)
        )
        if org is None:
            raise Refusal("err_chat_not_bound")
        return org

    async def top_orgs(self, user_id: int) -> list[tuple[Org, str]]:
        """The highest orgs where the person holds a role (for /pending, /stats in private)."""
        if user_id in self.superusers:
            root = await self.root()
            return [(root, "staff")] if root else []
        result: list[tuple[Org, str]] = []
        for org, role in sorted(await self.roles(user_id), key=lambda held: held[0].depth):
            if not any(o.id in org_repo.ancestor_ids(org) and o.id != org.id for o, _ in result):
                result.append((org, role))
        return result
