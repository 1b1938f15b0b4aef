"""Pydantic models of activities: the event, a sign-up and a card copy in a chat (a leaf)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Post(BaseModel):
    """One post of an activity (引导, 检票, ...): its own capacity, counters and waitlist, and
    optionally a shift whose length is the hours its people are credited."""

    model_config = ConfigDict(frozen=True)

    post_no: int
    name: str
    capacity: int
    shift_start: float | None = None
    shift_end: float | None = None
    confirmed: int = 0
    waiting: int = 0


class Activity(BaseModel):
    """One activity with its counters (`org_name` joined in for display)."""

    model_config = ConfigDict(frozen=True)

    id: int
    org_id: int
    title: str
    place: str
    starts_at: float
    quarters: int
    capacity: int
    lat: float | None = None
    lon: float | None = None
    radius_m: int = 300
    lang: str = "zh"
    status: str = "open"
    confirmed: int = 0
    waiting: int = 0
    next_seq: int = 0
    version: int = 1
    checkin_open: bool = False
    created_by: int
    created_at: float
    ended_at: float | None = None
    kind: str | None = None  # 'training' (培训班), 'lesson' (团课)
    signup_deadline: float | None = None  # None: sign-up closes at the start
    note: str | None = None  # the organiser's description (说明)
    edits: int = 0  # organiser edits so far: the SEQUENCE of its calendar file
    org_name: str | None = None
    # an occurrence of a recurring activity: its series, its place in it (from 1), and the
    # series' rule and size (joined for the card)
    series_id: int | None = None
    series_no: int | None = None
    series_rule: str | None = None
    series_total: int | None = None
    post_count: int = 0  # 0: one capacity for all; else `posts` (loaded with the activity)
    posts: tuple[Post, ...] = ()

    def post(self, post_no: int | None) -> Post | None:
        """The post numbered `post_no`, if the activity has it."""
        return next((p for p in self.posts if p.post_no == post_no), None)

    @property
    def hours(self) -> float:
        """The hours credited for attending."""
        return self.quarters / 4

    @property
    def deadline(self) -> float:
        """When sign-up closes: the deadline set, else the start."""
        return self.starts_at if self.signup_deadline is None else self.signup_deadline


class Signup(BaseModel):
    """One person's place (or waitlist position) in an activity."""

    model_config = ConfigDict(frozen=True)

    activity_id: int
    user_id: int
    status: str
    seq: int
    joined_at: float
    checked_in_at: float | None = None
    attendance: str | None = None
    hour_entry_id: int | None = None
    post_no: int | None = None  # the post held, for an activity with posts
    # joined for messages
    first_name: str | None = None
    lang: str | None = None
    tg_lang: str | None = None
    org_id: int | None = None


class Card(BaseModel):
    """One copy of an activity's card (or check-in button) in a chat."""

    model_config = ConfigDict(frozen=True)

    id: int
    activity_id: int
    chat_id: int
    kind: str = "card"
    message_id: int | None = None
    outbox_id: int | None = None
    shown_version: int = 0
    gone: bool = False
