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
    #: the parts of a two-part report received so far ('summary', 'plan')
    parts_in: list[str] = []

    @property
    def readable(self) -> bool:
        """Something was submitted (a report, or a part of one): 查看材料 has something."""
        return self.state != "missing" or bool(self.parts_in)


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
    panel: int = 0  # reviewers named with `| 评审 @a @b`


class Option(BaseModel):
    campaign: Campaign
    org: Org
    submitted: bool = False
    #: a two-part report: the part the next message will be, and the parts already in
    part: str | None = None
    parts_in: list[str] = []


class Received(BaseModel):
    campaign: Campaign
    org: Org
    submission: Submission
    replaced: bool
    #: for a two-part report: the part stored, and the part still missing (None: complete)
    part: str | None = None
    missing: str | None = None
