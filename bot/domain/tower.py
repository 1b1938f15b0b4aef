"""The tower: orgs, the chats bound to them, roles, and the chats' lifecycle."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from bot.domain import cache, validate
from bot.domain.access import Access
from bot.domain.clock import Clock
from bot.domain.errors import Refusal
from bot.domain.models import Chat, Org, User
from bot.domain.outbox import migrate_chat
from storage import chats as chat_repo
from storage import orgs as org_repo
from storage import privacy as privacy_repo
from storage import users as user_repo
from storage.db import Database

GROUP_TYPES = ("group", "supergroup")
#: a check from the Telegram edge that refuses (raises `Refusal`) or returns
Check = Callable[[], Awaitable[None]]
#: a Telegram username: 4-32 of A-Z a-z 0-9 _ (checked before any lookup)
_USERNAME = re.compile(r"[A-Za-z0-9_]{4,32}", re.ASCII)
#: the deep-link prefix of `/start join_<org code>`, shown by /org and /org add
JOIN_LINK = "join"


def join_payload(code: str) -> str:
    """The `/start` payload that registers straight into the org `code`."""
    return f"{JOIN_LINK}_{validate.link_payload(code)}"


def parse_join_payload(rest: str) -> str:
    """The org code of a join link (the part after `join_`)."""
    return validate.code_from_payload(rest)


class OrgView(BaseModel):
    """What /org shows: no real names, only display names."""

    org: Org
    parent: Org | None
    children: list[tuple[Org, Chat | None]]
    chat: Chat | None
    secretaries: list[User]
    staff: list[User]
    members: int
    subtree_orgs: int
    subtree_bound: int
    subtree_staffed: int


def count_tree(node: object) -> int:
    """How many orgs a YAML tree {code, name, children} holds (for a progress bar's total)."""
    if not isinstance(node, dict):
        return 0
    children = node.get("children")
    return 1 + sum(count_tree(c) for c in children) if isinstance(children, list) else 1


class ImportResult(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class Tower:
    """Services behind /setup, /bind, /unbind, /org, /org add, /role and chat bookkeeping."""

    def __init__(self, db: Database, access: Access, clock: Clock) -> None:
        self.db = db
        self.access = access
        self.clock = clock

    # --- reading -----------------------------------------------------------------------------
    async def org_of_chat(self, chat_id: int) -> Org:
        return await self.access.org_of_chat(chat_id)

    async def org_by_code(self, code: str) -> Org:
        org = await org_repo.by_code(self.db.reader, validate.org_code(code))
        if org is None:
            raise Refusal("err_unknown_org", code=validate.excerpt(code))
        return org

    async def view(self, chat_id: int) -> OrgView:
        org = await self.org_of_chat(chat_id)
        r = self.db.reader
        parent = await org_repo.get(r, org.parent_id) if org.parent_id else None
        kids = await org_repo.children(r, org.id)
        kid_chats = {c.org_id: c for c in await chat_repo.bound_in(r, [k.id for k in kids])}
        sub = await org_repo.subtree(r, org)
        sub_ids = [o.id for o in sub]
        bound = [c for c in await chat_repo.bound_in(r, sub_ids) if c.active]
        secretaries = await user_repo.holders(r, sub_ids, "secretary")
        here_secs = [g.user_id for g in secretaries if g.org_id == org.id]
        here_staff = [g.user_id for g in await user_repo.holders(r, [org.id], "staff")]
        members = await user_repo.people_in(r, [org.id])
        return OrgView(
            org=org,
            parent=parent,
            children=[(k, kid_chats.get(k.id)) for k in kids],
            chat=await chat_repo.of_org(r, org.id),
            secretaries=[u for u in [await user_repo.get_user(r, i) for i in here_secs] if u],
            staff=[u for u in [await user_repo.get_user(r, i) for i in here_staff] if u],
            members=len(members),
            subtree_orgs=len(sub),
            subtree_bound=len(bound),
            subtree_staffed=len({g.org_id for g in secretaries}),
        )

    async def choices(self, org_id: int | None) -> tuple[Org | None, list[Org]]:
        """An org and its children, for the registration picker (None: the root)."""
        r = self.db.reader
        org = await org_repo.get(r, org_id) if org_id else await org_repo.root(r)
        return org, (await org_repo.children(r, org.id) if org else [])

    # --- changing the tree -------------------------------------------------------------------
    async def setup(self, user_id: int, chat: Chat, code: str, name: str) -> Org:
        """Create the root org and bind this group to it (superusers only)."""
        if not self.access.is_superuser(user_id):
            raise Refusal("err_need_superuser")
        self._require_group(chat)
        code = validate.org_code(code)
        name = validate.clean_text(name, max_len=100, field="org_name")
        async with self.db.transaction() as tx:
            existing = await org_repo.root(tx)
            if existing is not None:
                raise Refusal("err_already_setup", code=existing.code)
            bound = await chat_repo.get(tx, chat.id)
            if bound and bound.org_id:
                raise Refusal("err_chat_already_bound")
            now = self.clock.time()
            org = await org_repo.insert(
                tx, code=code, name=name, kind="district", parent=None, now=now
            )
            await self._upsert_chat(tx, chat, now)
            await chat_repo.bind(tx, chat.id, org.id)
            cache.orgs_after_commit(self.db)
            cache.after_commit(self.db, "chat", chat.id)
        return org

    async def add_child(
        self, user_id: int, chat_id: int, code: str, name: str, kind: str | None
    ) -> Org:
        parent = await self.org_of_chat(chat_id)
        await self.access.require(user_id, parent, "staff")
        code = validate.org_code(code)
        name = validate.clean_text(name, max_len=100, field="org_name")
        kind = validate.clean_text(kind, max_len=30, field="kind") if kind else None
        async with self.db.transaction() as tx:
            if await org_repo.by_code(tx, code):
                raise Refusal("err_duplicate_code", code=code)
            cache.orgs_after_commit(self.db)
            return await org_repo.insert(
                tx, code=code, name=name, kind=kind, parent=parent, now=self.clock.time()
            )

    async def bind(
        self, user_id: int, chat: Chat, code: str, chat_admin: Check | None = None
    ) -> Org:
        """Bind the group to the org `code` (staff of it; `chat_admin` then checks with
        Telegram that the person administers the chat, before anything changes)."""
        self._require_group(chat)
        org = await self.org_by_code(code)
        await self.access.require(user_id, org, "staff")
        if chat_admin is not None:
            await chat_admin()
        async with self.db.transaction() as tx:
            here = await chat_repo.get(tx, chat.id)
            if here and here.org_id == org.id:
                raise Refusal("err_already_bound_here", org=org.name)
            if here and here.org_id:
                raise Refusal("err_chat_already_bound")
            other = await chat_repo.of_org(tx, org.id)
            if other and other.active:
                raise Refusal("err_org_has_chat", org=org.name, title=other.title)
            if other:  # an inactive chat (bot removed) gives up its binding
                await chat_repo.bind(tx, other.id, None)
                cache.after_commit(self.db, "chat", other.id)
            await self._upsert_chat(tx, chat, self.clock.time())
            await chat_repo.bind(tx, chat.id, org.id)
            cache.after_commit(self.db, "chat", chat.id)
        return org

    async def unbind(self, user_id: int, chat_id: int, chat_admin: Check | None = None) -> Org:
        """Unbind the group (staff of its org who, per `chat_admin`, administers the chat)."""
        org = await self.org_of_chat(chat_id)
        await self.access.require(user_id, org, "staff")
        if chat_admin is not None:
            await chat_admin()
        async with self.db.transaction() as tx:
            await chat_repo.bind(tx, chat_id, None)
            cache.after_commit(self.db, "chat", chat_id)
        return org

    async def assign_role(
        self, user_id: int, chat_id: int, target_id: int, role: str
    ) -> tuple[Org, User]:
        """Give `target` a role at this chat's org ('member' removes the role)."""
        if role not in validate.ROLE_WORDS:
            raise Refusal("err_bad_role")
        org = await self.org_of_chat(chat_id)
        await self.access.require(user_id, org, "staff")
        if target_id == user_id:
            raise Refusal("err_role_self")  # nobody grants (or drops) a role of their own
        async with self.db.transaction() as tx:
            target = await user_repo.get_user(tx, target_id)
            if target is None or await user_repo.get_person(tx, target_id) is None:
                raise Refusal("err_target_not_registered")
            cache.user_after_commit(self.db, target_id)  # authorization changes at once
            if role == "member":
                await user_repo.remove_role(tx, org_id=org.id, user_id=target_id)
            else:
                await user_repo.set_role(
                    tx,
                    org_id=org.id,
                    user_id=target_id,
                    role=role,
                    by=user_id,
                    now=self.clock.time(),
                )
            await privacy_repo.log(
                tx,
                at=self.clock.time(),
                actor_id=user_id,
                action="role",
                detail=role,
                org_id=org.id,
                target_id=target_id,
            )
        return org, target

    async def find_user(self, username: str) -> User:
        """The registered person whose current username this is (case-insensitive).

        Refused (ask for a reply instead) when the name is malformed, unknown, not the
        account's most recent username, was ever carried by another account, or its holder
        has not registered: a username that moved must not hand a role to a stranger.
        """
        name = username.removeprefix("@")
        refusal = Refusal("err_role_username", username=name[:40])
        if not _USERNAME.fullmatch(name):
            raise refusal
        r = self.db.reader
        holders = await user_repo.username_holders(r, name)
        if len(holders) != 1:
            raise refusal
        user = await user_repo.get_user(r, holders[0])
        if user is None or (user.username or "").lower() != name.lower():
            raise refusal
        if await user_repo.get_person(r, user.id) is None:
            raise refusal
        return user

    async def forget_usernames(self, user_id: int) -> None:
        """/forgetme: the usernames seen for this account go too."""
        async with self.db.transaction() as tx:
            await user_repo.forget_usernames(tx, user_id)

    async def import_tree(
        self,
        node: dict[str, Any],
        parent_code: str | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> ImportResult:
        """Create or update a tree {code, name, kind, children}; running it twice changes nothing."""
        result = ImportResult()
        async with self.db.transaction() as tx:
            parent = (
                await org_repo.by_code(tx, validate.org_code(parent_code)) if parent_code else None
            )
            if parent_code and parent is None:
                raise Refusal("err_unknown_org", code=validate.excerpt(parent_code))
            cache.orgs_after_commit(self.db)
            await self._import(tx, node, parent, result, progress or (lambda n: None))
        return result

    async def _import(
        self,
        tx: Any,
        node: dict[str, Any],
        parent: Org | None,
        result: ImportResult,
        progress: Callable[[int], object],
    ) -> None:
        if not isinstance(node, dict):
            raise Refusal("err_import_shape")
        code = validate.org_code(str(node.get("code", "")))
        name = validate.clean_text(str(node.get("name", "")), max_len=100, field="org_name")
        kind = str(node["kind"]) if node.get("kind") else None
        org = await org_repo.by_code(tx, code)
        if org is None:
            if parent is None and await org_repo.root(tx) is not None:
                raise Refusal("err_already_setup", code=code)
            org = await org_repo.insert(
                tx, code=code, name=name, kind=kind, parent=parent, now=self.clock.time()
            )
            result.created += 1
        else:
            if (parent.id if parent else None) != org.parent_id:
                raise Refusal("err_import_moved", code=code)
            if (org.name, org.kind) != (name, kind):
                await org_repo.rename(tx, org.id, name, kind)
                result.updated += 1
            else:
                result.unchanged += 1
        progress(1)
        for child in node.get("children") or []:
            await self._import(tx, child, org, result, progress)

    # --- chat lifecycle ----------------------------------------------------------------------
    async def bot_status(self, chat: Chat, status: str) -> None:
        """my_chat_member: the bot was added, promoted, demoted or removed."""
        active = status in ("member", "administrator", "creator", "restricted")
        async with self.db.transaction() as tx:
            await self._upsert_chat(
                tx,
                chat,
                self.clock.time(),
                active=active,
                is_admin=status in ("administrator", "creator"),
            )

    async def migrated(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: every stored reference moves to the new id."""
        async with self.db.transaction() as tx:
            await migrate_chat(tx, old_id, new_id, self.clock.time())
            cache.after_commit(self.db, "chat", old_id)
            cache.after_commit(self.db, "chat", new_id)

    async def retitled(self, chat_id: int, title: str) -> None:
        async with self.db.transaction() as tx:
            await chat_repo.set_title(tx, chat_id, title, self.clock.time())

    async def _upsert_chat(
        self, tx: Any, chat: Chat, now: float, *, active: bool = True, is_admin: bool | None = None
    ) -> None:
        """Store the chat as seen now (is_admin None: the bot's rights are not known here)."""
        await chat_repo.upsert(
            tx,
            chat_id=chat.id,
            type=chat.type,
            title=chat.title,
            active=active,
            is_admin=is_admin,
            now=now,
        )

    @staticmethod
    def _require_group(chat: Chat) -> None:
        if chat.type not in GROUP_TYPES:
            raise Refusal("err_group_only")
