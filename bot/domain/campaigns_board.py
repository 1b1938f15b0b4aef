"""What the campaign service returns: the board of one campaign and the results of
/deadline and /submit."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from bot.domain.models import Org
from bot.domain.models_campaigns import Campaign, Submission

State = Literal["on_time", "late", "missing"]


class BoardRow(BaseModel):
    org_id: int
    code: str
    name: str
    state: State
    has_secretary: bool
    submitter: str | None = None
    submitted_at: float | None = None


class Board(BaseModel):
    campaign: Campaign
    org: Org
    rows: list[BoardRow]
    undelivered: int = 0  # the campaign's messages Telegram refused for good

    def count(self, state: State) -> int:
        return sum(1 for r in self.rows if r.state == state)

    @property
    def missing(self) -> list[BoardRow]:
        return [r for r in self.rows if r.state == "missing"]


class Created(BaseModel):
    campaign: Campaign
    owing: int
    no_secretary: list[str]
    reminders: list[float]


class Option(BaseModel):
    campaign: Campaign
    org: Org
    submitted: bool = False


class Received(BaseModel):
    campaign: Campaign
    org: Org
    submission: Submission
    replaced: bool
