"""People: who talks to the bot, their language, guided registration, profile and erasure."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from bot.domain import cache as flows
from bot.domain import validate
from bot.domain.access import Access, Identity
from bot.domain.cache import user_after_commit
from bot.domain.clock import Clock
from bot.domain.errors import Refusal
from bot.domain.models import Actor, Org, Person, User
from bot.domain.roster import match_key
from bot.texts import DEFAULT_LANG, normalise_lang
from storage import minors as minor_repo
from storage import orgs as org_repo
from storage import privacy as privacy_repo
from storage import roster as roster_repo
from storage import users as user_repo
from storage.db import Conn, Database

#: a new registration starts at "age"; a minor without a guardian's consent waits at "guardian"
Step = Literal["age", "guardian", "name", "org", "phone", "consent", "confirm"]
REGISTER = "register"


class Registration(BaseModel):
    """The state of one person's guided registration (kept in the flows table).

    A minor's state holds only the org and the `minor` flag until a guardian has consented.
    """

    step: Step = "name"
    minor: bool = False  # under 14 (PIPL): nothing personal until a guardian consents
    real_name: str | None = None
    org_id: int | None = None
    org_name: str | None = None
    phone: str | None = None
    editing: bool = False
    after: str | None = None  # a deep-link payload to resume when registration completes
    picker_at: int | None = None  # the org the picker opens at (e.g. an activity's org)
    #: name and org came from an imported roster row with this phone (bot/domain/roster.py)
    from_roster: bool = False
    role: str | None = None  # the roster's role, granted on confirm


# --- callback data: the registration and /forgetme buttons ----------------------------------

RegVerb = Literal["age", "org", "pick", "consent", "confirm"]
#: every registration button (the handler is registered on it; a stale one is refused there)
REG_DATA = re.compile(r"^reg:")
_REG = re.compile(r"reg:(age|org|pick|consent|confirm):([0-9]{1,12}|[yn])", re.ASCII)
#: the /forgetme question is open (its buttons answer it once)
FORGET_FLOW = "forget"
#: every /forgetme button
FORGET_DATA = re.compile(r"^forget:")


def reg_data(verb: RegVerb, value: int | bool) -> str:
    """A registration button: open or pick an org (its id), or answer age (y: under 14),
    consent or confirm (y/n)."""
    if isinstance(value, bool):
        return f"reg:{verb}:{'y' if value else 'n'}"
    return f"reg:{verb}:{value}"


def parse_reg_data(data: str | None) -> tuple[RegVerb, int | bool]:
    """(verb, org id or yes/no) of a registration button; a stale or forged one is refused."""
    match = _REG.fullmatch(data or "")
    if match is None:
        raise Refusal("err_stale_button")
    verb, value = match.group(1), match.group(2)
    if verb in ("org", "pick"):
        if not value.isdigit():
            raise Refusal("err_stale_button")
        return verb, int(value)  # type: ignore[return-value]
    if value not in ("y", "n"):
        raise Refusal("err_stale_button")
    return verb, value == "y"  # type: ignore[return-value]


def forget_data(yes: bool) -> str:
    """The /forgetme question's Yes (delete) and No (keep) buttons."""
    return "forget:y" if yes else "forget:n"


def parse_forget_data(data: str | None) -> bool:
    """True for the Yes button, False for No; anything else is refused."""
    if data not in (forget_data(True), forget_data(False)):
        raise Refusal("err_stale_button")
    return data == forget_data(True)


class Profile(BaseModel):
    user: User
    person: Person | None
    org: Org | None
    roles: list[tuple[Org, str]]


class People:
    """Services behind /start, /register, /me, /forgetme and /lang."""

    def __init__(
        self, db: Database, access: Access, clock: Clock, default_lang: str = DEFAULT_LANG
    ):
        self.db = db
        self.access = access
        self.clock = clock
        self.default_lang = default_lang
        self.cache = access.cache

    # --- identity and language ---------------------------------------------------------------
    async def seen(self, actor: Actor, private: bool) -> None:
        """Record a user's Telegram identity; writes only when the stored row differs."""
        if _unchanged(await self.access.identity(actor.user_id), actor, private):
            return
        async with self.db.transaction() as tx:
            await user_repo.upsert_user(
                tx,
                user_id=actor.user_id,
                first_name=actor.first_name[:64],
                username=actor.username,
                tg_lang=actor.tg_lang,
                started=private,
                now=self.clock.time(),
            )
            user_after_commit(self.db, actor.user_id)

    def forget_cache(self, user_id: int) -> None:
        """Nothing about the user stays in memory (after /forgetme)."""
        self.cache.invalidate_user(user_id)

    async def lang(self, user_id: int | None, tg_lang: str | None = None) -> str:
        """/lang choice, else the Telegram language, else the configured default."""
        if user_id is None:
            return normalise_lang(tg_lang) or self.default_lang
        found = await self.access.identity(user_id)
        user = found.user if found else None
        return (
            (user.lang if user else None)
            or normalise_lang((user.tg_lang if user else None) or tg_lang)
            or self.default_lang
        )

    async def set_lang(self, user_id: int, lang: str) -> str:
        lang = (lang or "").strip().lower()
        if lang not in ("zh", "en"):
            raise Refusal("err_bad_lang")
        async with self.db.transaction() as tx:
            await user_repo.set_lang(tx, user_id, lang)
            user_after_commit(self.db, user_id)
        return lang

    # --- registration ------------------------------------------------------------------------
    async def registration(self, user_id: int) -> Registration | None:
        flow = await user_repo.get_flow(self.db.reader, user_id)
        if flow is None or flow.name != REGISTER:
            return None
        return Registration.model_validate(flow.state)

    async def flow_name(self, user_id: int) -> str | None:
        """Which guided flow (if any) the person is in (cached: every private text asks)."""
        return await self.cache.load("flow", user_id, lambda: self._read_flow_name(user_id))

    async def _read_flow_name(self, user_id: int) -> str | None:
        flow = await user_repo.get_flow(self.db.reader, user_id)
        return flow.name if flow else None

    async def begin(
        self,
        user_id: int,
        org_code: str | None = None,
        after: str | None = None,
        picker_at: int | None = None,
    ) -> Registration:
        """Start (or restart) registration; a known org from a deep link skips that step,
        `picker_at` opens the org picker at that org (the person may still move).

        A new registration first asks whether the person is under 14; editing does not.
        """
        person = await self.person(user_id)
        state = Registration(
            editing=person is not None,
            after=after,
            picker_at=picker_at,
            step="name" if person is not None else "age",
        )
        if org_code:
            org = await org_repo.by_code(self.db.reader, org_code)
            if org is None:
                raise Refusal("err_unknown_org", code=validate.excerpt(org_code))
            state.org_id, state.org_name = org.id, org.name
        elif person is not None:
            org = await org_repo.get(self.db.reader, person.org_id)
            if org:
                state.org_id, state.org_name = org.id, org.name
        return await self._save(user_id, state)

    async def answer_age(self, user_id: int, minor: bool) -> Registration:
        """Under 14: the org, then the guardian step (unless a guardian already consented)."""
        state = await self._expect(user_id, "age")
        state.minor = minor
        if not minor or await minor_repo.has_consent(self.db.reader, user_id):
            state.step = "name"
        else:
            state.step = "guardian" if state.org_id else "org"
        return await self._save(user_id, state)

    async def give_name(self, user_id: int, text: str) -> Registration:
        state = await self._expect(user_id, "name")
        state.real_name = validate.clean_text(text, max_len=50, field="name")
        state.step = self._after_org(state) if state.org_id and not state.editing else "org"
        return await self._save(user_id, state)

    @staticmethod
    def _after_org(state: Registration) -> Step:
        """The phone step, unless the contact was already shared at the name step."""
        return "consent" if state.phone else "phone"

    async def pick_org(self, user_id: int, org_id: int) -> Registration:
        state = await self._expect(user_id, "org")
        org = await org_repo.get(self.db.reader, org_id)
        if org is None:
            raise Refusal("err_unknown_org", code=str(org_id))
        state.org_id, state.org_name = org.id, org.name
        waiting = state.minor and not await minor_repo.has_consent(self.db.reader, user_id)
        state.step = "guardian" if waiting else self._after_org(state)
        return await self._save(user_id, state)

    async def pick_org_code(self, user_id: int, text: str) -> Registration:
        org = await org_repo.by_code(self.db.reader, validate.org_code(text))
        if org is None:
            raise Refusal("err_unknown_org", code=validate.excerpt(text))
        return await self.pick_org(user_id, org.id)

    async def give_phone(
        self, user_id: int, phone: str | None, contact_user_id: int | None = None
    ) -> Registration:
        """The contact button (at the phone step, or already at the name step) or Skip; a phone
        an imported roster knows fills in name and org, and the person only consents and confirms."""
        # the guardian rule applies here too: a minor's phone waits for the consent (_expect)
        state = await self._expect(user_id, "phone", "name")
        if state.step != "phone" and not (state.step == "name" and phone is not None):
            raise Refusal("err_wrong_step")
        if phone is not None:
            if contact_user_id != user_id:
                raise Refusal("err_not_own_contact")
            state.phone = validate.phone(phone)
            entry = await roster_repo.by_phone(self.db.reader, match_key(state.phone))
            org = await org_repo.get(self.db.reader, entry.org_id) if entry else None
            if entry is not None and org is not None:
                state.real_name, state.org_id, state.org_name = entry.real_name, org.id, org.name
                state.from_roster, state.role = True, entry.role
                state.step = "consent"
                return await self._save(user_id, state)
            if state.step == "name":  # not on the roster: the usual steps, phone already known
                return await self._save(user_id, state)
        state.step = "consent"
        return await self._save(user_id, state)

    async def consent(self, user_id: int, agree: bool) -> Registration | None:
        state = await self._expect(user_id, "consent")
        if not agree:
            await self.cancel(user_id)
            return None
        state.step = "confirm"
        return await self._save(user_id, state)

    async def restart(self, user_id: int) -> Registration:
        """ "Start again" on the summary: only while the summary is the open step."""
        state = await self._expect(user_id, "consent", "confirm")
        return await self.begin(user_id, after=state.after, picker_at=state.picker_at)

    async def confirm(
        self, user_id: int, actor: Actor | None = None, *, agreed: bool = False
    ) -> tuple[Person, Registration]:
        """Save the person; their Telegram name (from `actor`) is kept from now on.

        Agreeing at the consent step (which shows the summary) is the confirmation: one tap
        (`agreed`). A confirm button counts only at the confirm step, after the consent."""
        state = await self._expect(user_id, *(("consent",) if agreed else ("confirm",)))
        assert state.real_name and state.org_id
        async with self.db.transaction() as tx:
            if await org_repo.get(tx, state.org_id) is None:
                raise Refusal("err_unknown_org", code=state.org_name or "")
            await user_repo.save_person(
                tx,
                user_id=user_id,
                real_name=state.real_name,
                phone=state.phone,
                org_id=state.org_id,
                now=self.clock.time(),
            )
            await flows.clear_flow(self.db, tx, user_id)
            if state.from_roster and state.phone:
                await self._claim(tx, user_id, state)
            if actor is not None:
                await user_repo.upsert_user(
                    tx,
                    user_id=user_id,
                    first_name=actor.first_name[:64],
                    username=actor.username,
                    tg_lang=actor.tg_lang,
                    started=True,
                    now=self.clock.time(),
                )
            person = await user_repo.get_person(tx, user_id)
            user_after_commit(self.db, user_id)  # registered, maybe a role, no flow
        assert person is not None
        return person, state

    async def _claim(self, tx: Conn, user_id: int, state: Registration) -> None:
        """The roster row becomes the person's: its role is granted, the row goes."""
        entry = await roster_repo.by_phone(tx, match_key(state.phone or ""))
        if entry is None:  # purged or re-imported meanwhile: the person is registered anyway
            return
        if entry.role and entry.org_id == state.org_id:
            await user_repo.set_role(
                tx,
                org_id=entry.org_id,
                user_id=user_id,
                role=entry.role,
                by=None,
                now=self.clock.time(),
            )
            await privacy_repo.log(
                tx,
                at=self.clock.time(),
                actor_id=None,
                action="role",
                detail=f"{entry.role} (roster)",
                org_id=entry.org_id,
                target_id=user_id,
            )
        await roster_repo.delete(tx, [entry.phone])

    async def cancel(self, user_id: int) -> bool:
        async with self.db.transaction() as tx:
            return await flows.clear_flow(self.db, tx, user_id)

    async def ask_forget(self, user_id: int) -> None:
        """/forgetme asked its question: only that question's buttons may answer it."""
        async with self.db.transaction() as tx:
            await flows.set_flow(self.db, tx, user_id, FORGET_FLOW, {}, self.clock.time())

    async def require_forget_open(self, user_id: int) -> None:
        """A /forgetme button counts only while its question is open (the erasure, or No,
        closes it; after a crash among the erasure's commits it is still open to finish)."""
        flow = await user_repo.get_flow(self.db.reader, user_id)
        if flow is None or flow.name != FORGET_FLOW:
            raise Refusal("err_stale_button")

    async def _expect(self, user_id: int, *steps: Step) -> Registration:
        state = await self.registration(user_id)
        if state is None:
            raise Refusal("err_no_registration")
        if state.step == "guardian":
            raise Refusal("err_minor_wait_guardian")
        if state.step not in steps:
            raise Refusal("err_wrong_step")
        if (
            state.step in ("name", "phone", "consent", "confirm")
            and state.minor
            and not await minor_repo.has_consent(self.db.reader, user_id)
        ):
            raise Refusal("err_minor_wait_guardian")
        return state

    async def _save(self, user_id: int, state: Registration) -> Registration:
        async with self.db.transaction() as tx:
            await flows.set_flow(
                self.db, tx, user_id, REGISTER, state.model_dump(), self.clock.time()
            )
        return state

    # --- profile -----------------------------------------------------------------------------
    async def person(self, user_id: int) -> Person | None:
        found = await self.access.identity(user_id)
        return found.person if found else None

    async def require_person(self, user_id: int) -> Person:
        person = await self.person(user_id)
        if person is None:
            raise Refusal("err_not_registered")
        return person

    async def profile(self, user_id: int) -> Profile:
        found = await self.access.identity(user_id)
        roles = list(found.roles) if found else []
        if self.access.is_superuser(user_id):
            root = await self.access.root()
            if root:
                roles.insert(0, (root, "superuser"))
        if found is None:
            return Profile(user=User(id=user_id), person=None, org=None, roles=roles)
        return Profile(user=found.user, person=found.person, org=found.org, roles=roles)

    # /forgetme itself is bot/domain/privacy.py; forget_cache() drops what memory holds


def _unchanged(found: Identity | None, actor: Actor, private: bool) -> bool:
    """Whether `user_repo.upsert_user` would leave the stored users row as it is.

    The Telegram name and username are kept only for registered people; a private message
    marks the user started and reachable."""
    if found is None:
        return False
    user, registered = found.user, found.person is not None
    return (
        user.first_name == (actor.first_name[:64] if registered else "")
        and user.username == (actor.username if registered else None)
        and user.tg_lang == actor.tg_lang
        and (not private or (user.started and user.reachable))
    )
