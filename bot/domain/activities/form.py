"""The guided /activity form: one question per private message, the last answer creates it.

Steps: title, start, sign-up deadline*, repetition*, hours, posts*, capacity (not asked when
posts were given: their sum), place, location* (* optional: a Skip button, or "跳过"/"skip").
The optional answers are read by the one-line form's own parsers (parsing.py, posts.py,
recurrence.py), so an activity made here is the same as one made by the same one-line command.

A mixin of `Activities` (service.py), kept apart so each file holds one concern.
"""

from __future__ import annotations

import re

from bot.domain import cache as flows
from bot.domain.activities.parsing import (
    MAX_CAPACITY,
    ActivityInput,
    is_skip,
    parse_capacity,
    parse_coords,
    parse_deadline,
    parse_place,
    parse_quarters,
    parse_title,
    parse_when,
)
from bot.domain.activities.posts import POST_WORDS, PostInput, is_posts_field, on_day, parse_posts
from bot.domain.activities.recurrence import SeriesRule, occurrence_days, parse_rule
from bot.domain.activities.results import Created, FormState, FormStep
from bot.domain.activities.series import SeriesSteps
from bot.domain.clock import local
from bot.domain.errors import Refusal
from bot.domain.when import Reading
from bot.texts import t
from storage import users as user_repo
from storage.db import Conn

FORM = "activity_form"  # the guided flow's name
STEPS: tuple[FormStep, ...] = (
    "title",
    "when",
    "deadline",
    "repeat",
    "hours",
    "posts",
    "capacity",
    "place",
    "location",
)
OPTIONAL: frozenset[FormStep] = frozenset({"deadline", "repeat", "posts", "location"})
#: the Skip button of an optional step: `actf:skip:<step>` (the step it was offered at)
SKIP_PATTERN = r"^actf:"
_SKIP_RE = re.compile(r"actf:skip:(deadline|repeat|posts|location)")


def skip_data(step: FormStep) -> str:
    """The callback data of the Skip button offered at `step`."""
    return f"actf:skip:{step}"


def parse_skip_data(data: str | None) -> FormStep:
    """The step a Skip button was offered at; a stale or forged one is refused."""
    match = _SKIP_RE.fullmatch(data or "")
    if match is None:
        raise Refusal("err_stale_button")
    step: FormStep = match.group(1)  # type: ignore[assignment]
    return step


def step_no(state: FormState) -> int:
    """The number the current step is shown with (capacity is not asked after posts)."""
    index = STEPS.index(state.step) + 1
    if state.posts and index > STEPS.index("capacity") + 1:
        index -= 1
    return index


def posts_field(text: str | None) -> str:
    """A posts answer as the one-line form's `| 岗位 …` field (the word may be left out)."""
    value = " ".join((text or "").split())
    return value if is_posts_field(value) else f"{POST_WORDS[0]} {value}"


def read_posts(field: str, ex: dict[str, str]) -> list[PostInput]:
    """The posts of a field, their total within the cap (as the one-line form checks)."""
    posts = parse_posts(field, MAX_CAPACITY, ex)
    total = sum(p.capacity for p in posts)
    if total > MAX_CAPACITY:
        raise Refusal("err_post_total_max", total=total, max=MAX_CAPACITY, **ex)
    return posts


class FormSteps(SeriesSteps):
    """The form's steps (a repetition makes a series: `SeriesSteps.create_series`)."""

    async def form_begin(self, user_id: int, chat_id: int, lang: str) -> FormState:
        """Start the guided /activity form; its first question is queued in the same commit."""
        org = await self.require_organiser(user_id, chat_id)
        state = FormState(chat_id=chat_id, org_id=org.id)
        async with self.db.transaction() as tx:
            await flows.set_flow(self.db, tx, user_id, FORM, state.model_dump(), self.clock.time())
            await self.outbox.add(
                tx, user_id, t(lang, "act_form_title", org=org.name), ref="act:form"
            )
        return state

    async def form_state(self, user_id: int) -> FormState | None:
        """The person's guided form, if they are filling one in."""
        flow = await user_repo.get_flow(self.db.reader, user_id)
        if flow is None or flow.name != FORM:
            return None
        return FormState.model_validate(flow.state)

    def _series_rule(self, text: str | None, starts_at: float) -> SeriesRule:
        """A repetition rule read as the one-line form reads it, within the caps."""
        first = local(starts_at, self.settings.tz).date()
        rule = parse_rule(text, first)
        occurrence_days(rule, first)
        return rule

    async def form_answer(
        self,
        user_id: int,
        text: str | None,
        location: tuple[float, float] | None,
        lang: str,
        chosen: Reading | None = None,
        skip: FormStep | None = None,
    ) -> tuple[FormState, Created | None]:
        """One answer to the form's current step (`chosen`: a start time pressed; `skip`: the
        Skip button of that optional step); the last one creates the activity. A bad answer is
        refused and nothing is stored: the step stays where it was."""
        state = await self.form_state(user_id)
        if (
            state is None
            or (chosen is not None and state.step != "when")
            or (skip is not None and skip != state.step)
        ):
            raise Refusal("err_wrong_step")
        step = state.step
        skipped = step in OPTIONAL and (
            skip is not None or (location is None and chosen is None and is_skip(text))
        )
        ex = self.examples()
        now = self.clock.time()
        if step == "title":
            state.title = parse_title(text, ex)
        elif step == "when":
            state.starts_at = parse_when(None if chosen else text, now, self.settings, ex, chosen)
        elif step == "deadline" and not skipped:
            assert state.starts_at is not None
            state.signup_deadline = parse_deadline(text, now, state.starts_at, self.settings, ex)
        elif step == "repeat" and not skipped:
            assert state.starts_at is not None
            self._series_rule(text, state.starts_at)  # checked now, read again at the end
            state.rule = " ".join((text or "").split())
        elif step == "hours":
            state.quarters = parse_quarters(text, ex)
        elif step == "posts" and not skipped:
            state.posts = posts_field(text)
            state.capacity = sum(p.capacity for p in read_posts(state.posts, ex))
        elif step == "capacity":
            state.capacity = parse_capacity(text, ex)
        elif step == "place":
            state.place = parse_place(text, ex)
        elif step == "location":
            lat = lon = None
            if location is not None:
                lat, lon = location
            elif not skipped:
                lat, lon = parse_coords(text, ex)
            created = await self._form_create(user_id, state, lat, lon, lang)
            return state, created
        following = STEPS[STEPS.index(step) + 1]
        if following == "capacity" and state.posts:  # the posts' sum
            following = "place"
        state.step = following
        await self._form_save(user_id, state)
        return state, None

    async def _form_create(
        self, user_id: int, state: FormState, lat: float | None, lon: float | None, lang: str
    ) -> Created:
        """The answers as the one-line form's `ActivityInput`; its card goes by the outbox."""
        assert state.title and state.starts_at and state.quarters and state.capacity
        assert state.place
        ex = self.examples()
        posts = read_posts(state.posts, ex) if state.posts else []
        data = ActivityInput(
            title=state.title,
            starts_at=state.starts_at,
            quarters=state.quarters,
            capacity=state.capacity,
            place=state.place,
            lat=lat,
            lon=lon,
            cascade=state.cascade,
            signup_deadline=state.signup_deadline,
            posts=on_day(posts, state.starts_at, self.settings),
            series=None if state.rule is None else self._series_rule(state.rule, state.starts_at),
        )

        async def end_form(tx: Conn) -> None:  # with the activity, or not at all
            await flows.clear_flow(self.db, tx, user_id)

        if data.series is not None:
            return await self.create_series(
                user_id, state.chat_id, data, lang, origin_by_outbox=True, then=end_form
            )
        return await self.create(
            user_id, state.chat_id, data, lang, origin_by_outbox=True, then=end_form
        )

    async def _form_save(self, user_id: int, state: FormState) -> None:
        async with self.db.transaction() as tx:
            await flows.set_flow(self.db, tx, user_id, FORM, state.model_dump(), self.clock.time())
