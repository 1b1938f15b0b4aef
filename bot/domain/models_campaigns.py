"""Report-back campaigns as repositories return them."""

from __future__ import annotations

from pydantic import BaseModel


class Campaign(BaseModel):
    """A report-back campaign: a title owed by orgs below `org_id` by `due_at`."""

    id: int
    org_id: int
    title: str
    due_at: float
    scope: str = "children"
    status: str = "open"
    created_by: int
    created_at: float
    cancelled_at: float | None = None
    #: 1: one report; 2: a work summary and a next-year plan, submitted separately
    parts: int = 1
    #: the review's grades, best first, '|'-separated ('' = the default rubric)
    rubric: str = ""
    #: how the review's result is worked out: 'average' of grade points or 'majority'
    method: str = "average"

    @property
    def is_open(self) -> bool:
        """Not cancelled: it still takes reports and sends reminders."""
        return self.status == "open"


class Content(BaseModel):
    """What one message of the submission flow carries (a report, or one part of it)."""

    user_id: int
    text: str | None
    file_id: str | None
    file_name: str | None
    file_size: int | None
    now: float
    late: bool


class Submission(BaseModel):
    """One org's report for a campaign (the latest version)."""

    campaign_id: int
    org_id: int
    user_id: int
    first_name: str = ""  # the submitter's Telegram display name (never the real name)
    text: str | None = None
    file_id: str | None = None
    file_name: str | None = None
    file_size: int | None = None
    submitted_at: float
    late: bool = False
    versions: int = 1


class Part(Submission):
    """One part ('summary' or 'plan') of a two-part report."""

    part: str


class Owing(BaseModel):
    """One org that owes a campaign, with its current submission if any."""

    campaign_id: int
    org_id: int
    code: str
    name: str
    path: str
    depth: int
    no_secretary_told_at: float | None = None
    submission: Submission | None = None
