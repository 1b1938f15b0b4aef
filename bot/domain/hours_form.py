"""The guided /hours: how long → which day (today / yesterday / another, typed) → what you did →
confirm; and the date question a one-line /hours asks when its date reads two ways."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal, NamedTuple

from pydantic import BaseModel

from bot.domain import cache as flows
from bot.domain.errors import Refusal
from bot.domain.hours import Hours, Logged
from bot.domain.hours_input import (
    HoursInput,
    parse_amount,
    parse_day,
    parse_description,
    parse_hours,
)
from bot.domain.when import Reading, choice_data, leading_day, parse_choice_data
from storage import users as user_repo

FORM_FLOW = "hours_form"
#: the kind of the date choice buttons (`bot.domain.when.choice_data`)
DAY_KIND = "hrs"
Step = Literal["hours", "day", "desc", "confirm"]
FormVerb = Literal["other", "ok", "no"]
_FORM_DATA = re.compile(r"^hrf:(other|ok|no)$")


class FormState(BaseModel):
    """Where a person is in the guided /hours (stored in the flows table)."""

    step: Step = "hours"
    quarters: int | None = None
    served_on: date | None = None
    description: str | None = None
    line: bool = False  # from a one-line /hours: log as soon as the day is chosen
    photo: str | None = None  # a one-line /hours sent with a photo: its file_id


class FormStep(NamedTuple):
    """What to say next: the state's question, the days to offer, or the entry logged."""

    state: FormState | None
    choices: tuple[date, ...] = ()
    asked: str = ""  # the answer that read more than one way
    logged: Logged | None = None


def form_data(verb: FormVerb) -> str:
    """Callback data of the form's own buttons: another day, confirm, drop."""
    return f"hrf:{verb}"


def form_pattern() -> re.Pattern[str]:
    """What the form's button handler is registered on."""
    return _FORM_DATA


def parse_form_data(data: str | None) -> FormVerb:
    """The verb of a form button; a stale or forged one is refused."""
    match = _FORM_DATA.match(data or "")
    if match is None:
        raise Refusal("err_stale_button")
    return match.group(1)  # type: ignore[return-value]


def day_data(day: date) -> str:
    """A button that answers "which day" with `day`."""
    return choice_data(DAY_KIND, Reading(day))


def parse_day_data(data: str | None) -> date:
    """The day of a day button."""
    kind, reading = parse_choice_data(data)
    if kind != DAY_KIND or reading.minute is not None:
        raise Refusal("err_stale_button")
    return reading.day


class HoursForm:
    """The guided /hours over the Hours service (one per update; it holds no state itself)."""

    def __init__(self, hours: Hours) -> None:
        self.hours = hours

    async def _save(self, user_id: int, state: FormState) -> FormState:
        async with self.hours.db.transaction() as tx:
            await flows.set_flow(
                self.hours.db,
                tx,
                user_id,
                FORM_FLOW,
                state.model_dump(mode="json"),
                self.hours.clock.time(),
            )
        return state

    async def state(self, user_id: int) -> FormState | None:
        """The person's form, if they are in one."""
        flow = await user_repo.get_flow(self.hours.db.reader, user_id)
        if flow is None or flow.name != FORM_FLOW:
            return None
        return FormState.model_validate(flow.state)

    async def _expect(self, user_id: int, step: Step) -> FormState:
        state = await self.state(user_id)
        if state is None or state.step != step:
            raise Refusal("err_stale_button")
        return state

    async def begin(self, user_id: int) -> FormState:
        """/hours alone: the first question."""
        if await user_repo.get_person(self.hours.db.reader, user_id) is None:
            raise Refusal("err_not_registered")
        return await self._save(user_id, FormState())

    async def line(self, user_id: int, text: str, photo: str | None = None) -> FormStep:
        """A one-line /hours (with the file_id of a photo sent with it): logged at once, or
        its uncertain date asked with buttons."""
        parsed = parse_hours(text, self.hours.today())
        if not parsed.choices:
            return FormStep(None, logged=await self.hours.record(user_id, parsed, photo=photo))
        if await user_repo.get_person(self.hours.db.reader, user_id) is None:
            raise Refusal("err_not_registered")
        state = await self._save(
            user_id,
            FormState(
                step="day",
                quarters=parsed.quarters,
                description=parsed.description,
                line=True,
                photo=photo,
            ),
        )
        rest = text.split(maxsplit=1)[1]
        asked = rest[: leading_day(rest, self.hours.today()).end].strip()
        return FormStep(state, parsed.choices, asked=asked)

    async def answer(self, user_id: int, text: str | None) -> FormStep:
        """A typed answer to the current question."""
        state = await self.state(user_id)
        if state is None:
            raise Refusal("err_stale_button")
        today = self.hours.today()
        if state.step == "hours":
            state.quarters = int(parse_amount(text, today) * 4)
            state.step = "day"
        elif state.step == "day":
            day, choices = parse_day(text, today)
            if day is None:
                return FormStep(state, choices, asked=(text or "").strip())
            return await self._day_chosen(user_id, state, day)
        elif state.step == "desc":
            state.description = parse_description(text, today)
            state.step = "confirm"
        else:
            raise Refusal("err_hours_form_press")
        return FormStep(await self._save(user_id, state))

    async def pick_day(self, user_id: int, day: date) -> FormStep:
        """A day button pressed (today, yesterday, or one of the readings offered)."""
        state = await self._expect(user_id, "day")
        return await self._day_chosen(user_id, state, day)

    async def _day_chosen(self, user_id: int, state: FormState, day: date) -> FormStep:
        today = self.hours.today()
        if not today - timedelta(days=365) <= day <= today:
            parse_day(day.isoformat(), today)  # refuses with the reason
        state.served_on = day
        if state.line:
            return await self._finish(user_id, state)
        state.step = "desc" if state.description is None else "confirm"
        return FormStep(await self._save(user_id, state))

    async def pick_other(self, user_id: int) -> FormState:
        """ "Another day" pressed: the day is typed next (the step stays "day")."""
        return await self._expect(user_id, "day")

    async def confirm(self, user_id: int, keep: bool) -> FormStep:
        """Confirm (log) or drop the form's entry."""
        state = await self._expect(user_id, "confirm")
        if not keep:
            async with self.hours.db.transaction() as tx:
                await flows.clear_flow(self.hours.db, tx, user_id)
            return FormStep(None)
        return await self._finish(user_id, state)

    async def _finish(self, user_id: int, state: FormState) -> FormStep:
        assert state.quarters and state.served_on and state.description
        parsed = HoursInput.model_validate(
            {
                "hours": Decimal(state.quarters) / 4,
                "served_on": state.served_on,
                "description": state.description,
            },
            context={"today": self.hours.today()},
        )
        async with self.hours.db.transaction() as tx:
            await flows.clear_flow(self.hours.db, tx, user_id)
        return FormStep(None, logged=await self.hours.record(user_id, parsed, photo=state.photo))
