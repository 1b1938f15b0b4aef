"""The guided /activity form: one question per private message, the last answer creates it.

A mixin of `Activities` (service.py), kept apart so each file holds one concern.
"""

from __future__ import annotations

from bot.domain import cache as flows
from bot.domain.activities.base import ActivityBase
from bot.domain.activities.parsing import (
    ActivityInput,
    is_skip,
    parse_capacity,
    parse_coords,
    parse_place,
    parse_quarters,
    parse_title,
    parse_when,
)
from bot.domain.activities.results import Created, FormState
from bot.domain.errors import Refusal
from bot.domain.when import Reading
from bot.texts import t
from storage import users as user_repo

FORM = "activity_form"  # the guided flow's name


class FormSteps(ActivityBase):
    """The form's steps."""

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

    async def form_answer(
        self,
        user_id: int,
        text: str | None,
        location: tuple[float, float] | None,
        lang: str,
        chosen: Reading | None = None,
    ) -> tuple[FormState, Created | None]:
        """One answer to the form's current step (`chosen`: a start time pressed); the last one
        creates the activity."""
        state = await self.form_state(user_id)
        if state is None or (chosen is not None and state.step != "when"):
            raise Refusal("err_wrong_step")
        ex = self.examples()
        now = self.clock.time()
        if state.step == "title":
            state.title, state.step = parse_title(text, ex), "when"
        elif state.step == "when":
            state.starts_at = parse_when(None if chosen else text, now, self.settings, ex, chosen)
            state.step = "hours"
        elif state.step == "hours":
            state.quarters, state.step = parse_quarters(text, ex), "capacity"
        elif state.step == "capacity":
            state.capacity, state.step = parse_capacity(text, ex), "place"
        elif state.step == "place":
            state.place, state.step = parse_place(text, ex), "location"
        elif state.step == "location":
            lat = lon = None
            if location is not None:
                lat, lon = location
            elif not is_skip(text):
                lat, lon = parse_coords(text, ex)
            assert state.title and state.starts_at and state.quarters and state.capacity
            assert state.place
            # the answers so far are the activity's fields (every step has been answered)
            data = ActivityInput(
                **state.model_dump(exclude={"step", "chat_id", "org_id"}), lat=lat, lon=lon
            )
            created = await self.create(user_id, state.chat_id, data, lang, origin_by_outbox=True)
            async with self.db.transaction() as tx:
                await flows.clear_flow(self.db, tx, user_id)
            return state, created
        await self._form_save(user_id, state)
        return state, None

    async def _form_save(self, user_id: int, state: FormState) -> None:
        async with self.db.transaction() as tx:
            await flows.set_flow(self.db, tx, user_id, FORM, state.model_dump(), self.clock.time())
